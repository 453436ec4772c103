package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/luma-deploy/luma/internal/testenv"
)

// execApp writes luma.yml for an app with a plain and a secret variable,
// sets it up and deploys it.
func execApp(t *testing.T) app {
	t.Helper()
	a := app{project: "e2eexec", name: "webexec", server: "localhost", dir: t.TempDir()}
	img := testenv.BuildHello(t, "exec")
	removeProject(t, a.project)
	yml := fmt.Sprintf(`name: %s
proxy:
  http_port: %d
apps:
  %s:
    image: %s
    servers: ["localhost"]
    replicas: 2
    environment:
      plain: ["GREETING=hi"]
      secret: ["EXEC_TOKEN"]
    proxy:
      hosts: [%q]
      app_port: 3000
    health_check:
      start_period: 2s
      interval: 500ms
      timeout: 2s
      retries: 2
    stop_timeout: 5s
`, a.project, proxyPort, a.name, img, a.host())
	if err := os.WriteFile(filepath.Join(a.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(a.dir, ".luma"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, ".luma", "secrets"), []byte("EXEC_TOKEN=tok-s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustLuma(t, a.dir, "setup")
	// The deploy record outlives the containers in luma-proxy's store.
	t.Cleanup(func() { luma(t, a.dir, "remove", a.name) })
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	return a
}

// lumaIn runs luma with stdin.
func lumaIn(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(lumaBin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, append(os.Environ(), "NO_COLOR=1"), strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("luma %s <<< %q → %s", strings.Join(args, " "), stdin, r)
	return r
}

func oneOffContainers(t *testing.T, project string) []string {
	return testenv.ContainerNames(t, "", "luma.project="+project, "luma.oneoff")
}

func TestExec(t *testing.T) {
	a := execApp(t)

	r := luma(t, a.dir, "exec", a.name, "--", "/hello", "echo", "hi", "there")
	if r.Code != 0 || r.Stdout != "hi there\n" || r.Stderr != "" {
		t.Errorf("exec echo: %s", r)
	}
	// The exit code is passed back, and stderr stays stderr.
	r = luma(t, a.dir, "exec", a.name, "--", "/hello", "exit", "3", "oops")
	if r.Code != 3 || r.Stdout != "" || r.Stderr != "oops\n" {
		t.Errorf("exec exit 3: %s", r)
	}
	// The active color, before and after the next deploy.
	first := "blue"
	if !strings.Contains(mustLuma(t, a.dir, "status", "--json").Stdout, `"active": "blue"`) {
		first = "green"
	}
	r = luma(t, a.dir, "exec", a.name, "--replica", "2", "--", "/hello", "env", "LUMA_COLOR", "LUMA_RELEASE")
	if r.Code != 0 || r.Stdout != "LUMA_COLOR="+first+"\nLUMA_RELEASE=r1\n" {
		t.Errorf("exec --replica 2 env: %s", r)
	}
	mustLuma(t, a.dir, "deploy", "--release", "r2")
	r = luma(t, a.dir, "exec", a.name, "--", "/hello", "env", "LUMA_COLOR", "LUMA_RELEASE")
	if r.Code != 0 || r.Stdout != "LUMA_COLOR="+otherColor(first)+"\nLUMA_RELEASE=r2\n" {
		t.Errorf("exec env after the second deploy: %s", r)
	}

	// stdin only with -i, closed at its end.
	if r := lumaIn(t, a.dir, "piped\nlines\n", "exec", "-i", a.name, "--", "/hello", "cat"); r.Code != 0 || r.Stdout != "piped\nlines\n" {
		t.Errorf("exec -i cat: %s", r)
	}
	if r := lumaIn(t, a.dir, "not for it\n", "exec", a.name, "--", "/hello", "cat"); r.Code != 0 || r.Stdout != "" {
		t.Errorf("exec cat without -i: %s", r)
	}

	// Not found: the engine's reason and code.
	r = luma(t, a.dir, "exec", a.name, "--", "/nosuch")
	if (r.Code != 126 && r.Code != 127) || !strings.Contains(r.Stdout+r.Stderr, `"/nosuch"`) {
		t.Errorf("exec of a missing executable: %s", r)
	}
	// Usage errors change nothing and say what is allowed.
	if r := luma(t, a.dir, "exec", a.name, "--replica", "3", "--", "/hello", "echo"); r.Code != 2 || !strings.Contains(r.Stderr, "replicas 1 to 2") {
		t.Errorf("exec --replica 3: %s", r)
	}
	if r := luma(t, a.dir, "exec", a.name, "--server", "db1", "--", "/hello", "echo"); r.Code != 2 || !strings.Contains(r.Stderr, "its servers: localhost") {
		t.Errorf("exec --server db1: %s", r)
	}
	if r := luma(t, a.dir, "exec", a.name); r.Code != 2 {
		t.Errorf("exec without a command: %s", r)
	}
}

func TestExecOneOff(t *testing.T) {
	a := execApp(t)
	r := luma(t, a.dir, "exec", "--new", a.name, "--", "/hello", "env", "GREETING", "EXEC_TOKEN")
	if r.Code != 0 || r.Stdout != "GREETING=hi\nEXEC_TOKEN=tok-s3cr3t\n" || r.Stderr != "" {
		t.Errorf("exec --new env: %s", r)
	}
	if r := luma(t, a.dir, "exec", "--new", a.name, "--", "/hello", "exit", "4", "bad"); r.Code != 4 || r.Stderr != "bad\n" {
		t.Errorf("exec --new exit 4: %s", r)
	}
	if r := lumaIn(t, a.dir, "to the one-off\n", "exec", "--new", "-i", a.name, "--", "/hello", "cat"); r.Code != 0 || r.Stdout != "to the one-off\n" {
		t.Errorf("exec --new -i cat: %s", r)
	}
	if left := oneOffContainers(t, a.project); len(left) != 0 {
		t.Errorf("one-offs left: %v", left)
	}
	// The app's containers are as the deploy left them.
	if got := containers(t, a.project, a.name); len(got) != 2 {
		t.Errorf("app containers = %v", got)
	}

	// Ctrl-C stops and removes a one-off.
	cmd := exec.Command(lumaBin, "exec", "--new", a.name, "--", "/hello", "sleep", "2m")
	cmd.Dir = a.dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "sleeping") {
		t.Fatalf("one-off sleep said %q, %v", line, err)
	}
	if left := oneOffContainers(t, a.project); len(left) != 1 {
		t.Errorf("one-offs while one runs: %v", left)
	}
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("Ctrl-C of a one-off: %v, want exit 130\n%s", err, stderr.String())
	}
	if left := oneOffContainers(t, a.project); len(left) != 0 {
		t.Errorf("one-offs left after Ctrl-C: %v", left)
	}

	// Once the app is gone, exec says so.
	mustLuma(t, a.dir, "remove", a.name)
	r = luma(t, a.dir, "exec", a.name, "--", "/hello", "echo")
	if r.Code != 1 || !strings.Contains(r.Stderr, a.name+" is not deployed on localhost: run `luma deploy "+a.name+"` first") {
		t.Errorf("exec after remove: %s", r)
	}
}

// TestExecTTY runs an interactive session in a pty: the command sees a
// terminal of the pty's size, follows a resize, echoes what is typed,
// and its exit code is luma's; luma leaves the terminal as it found it.
func TestExecTTY(t *testing.T) {
	a := execApp(t)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 100}); err != nil {
		t.Fatal(err)
	}
	before, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(lumaBin, "exec", a.name, "--", "/hello", "tty")
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := ptmx.Read(b)
			mu.Lock()
			screen.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// await types line (if any) every 500 ms until the screen shows want.
	await := func(line, want string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if line != "" {
				io.WriteString(ptmx, line+"\r")
			}
			time.Sleep(500 * time.Millisecond)
			mu.Lock()
			s := screen.String()
			mu.Unlock()
			if strings.Contains(s, want) {
				return
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("the session never showed %q:\n%s", want, s)
			}
		}
	}
	await("", "stdin tty: true, stdout tty: true")
	await("hello", "echo: hello")
	await("size", "size: 100x30")
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	await("size", "size: 120x40")
	io.WriteString(ptmx, "exit 7\r")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("luma exec did not end after the command exited")
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("tty session: %v, want exit 7", err)
	}
	after, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("luma left the terminal changed:\nbefore %+v\nafter  %+v", *before, *after)
	}
}
