package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestLogs deploys an app and reads its logs: the app's start line under
// [server container], --tail, --timestamps, --json, --proxy; then
// `luma logs -f` started before a second deploy shows the new color's
// container start and the old one stop, and ends with 0 on Ctrl-C.
func TestLogs(t *testing.T) {
	a := newFapp(t, "e2elogs", "weblogs")
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	color := a.activeColor(t)
	blue := "[" + a.server + " " + a.project + "-" + a.name + "-" + color + "] "

	r := mustLuma(t, a.dir, "logs", a.name)
	if !strings.Contains(r.Stdout, "hello v1 listening on :3000") {
		t.Errorf("logs lack the app's start line:\n%s", r.Stdout)
	}
	for _, l := range lines(r.Stdout) {
		if !strings.HasPrefix(l, blue) {
			t.Errorf("line %q lacks the prefix %q", l, blue)
		}
	}
	if r := mustLuma(t, a.dir, "logs", a.name, "--tail", "0"); r.Stdout != "" {
		t.Errorf("--tail 0 printed %q", r.Stdout)
	}
	r = mustLuma(t, a.dir, "logs", a.name, "--tail", "1", "--timestamps")
	if l := lines(r.Stdout); len(l) != 1 || !strings.HasPrefix(l[0], blue) {
		t.Fatalf("--tail 1 printed %q", r.Stdout)
	} else if ts, _, _ := strings.Cut(strings.TrimPrefix(l[0], blue), " "); !validTime(ts) {
		t.Errorf("--timestamps line %q: no RFC 3339 time after the prefix", l[0])
	}
	r = mustLuma(t, a.dir, "logs", a.name, "--json", "--since", "10m")
	var obj struct{ Server, Container, Stream, Line, Time string }
	if l := lines(r.Stdout); len(l) == 0 || json.Unmarshal([]byte(l[0]), &obj) != nil ||
		obj.Server != a.server || obj.Container != a.project+"-"+a.name+"-"+color || obj.Stream != "stderr" || !validTime(obj.Time) ||
		!strings.Contains(obj.Line, "hello v1 listening") {
		t.Errorf("--json printed %q", r.Stdout)
	}
	if r := luma(t, a.dir, "logs", a.name, "--server", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, `server "nope" is not one of app "weblogs"'s servers (servers: localhost)`) {
		t.Errorf("--server nope: %s", r)
	}
	r = mustLuma(t, a.dir, "logs", "--proxy", "--tail", "5")
	if l := lines(r.Stdout); len(l) == 0 || len(l) > 5 {
		t.Errorf("logs --proxy --tail 5 printed %d lines", len(l))
	}
	for _, l := range lines(r.Stdout) {
		if !strings.HasPrefix(l, "["+a.server+" luma-proxy] ") {
			t.Errorf("luma-proxy line %q lacks its prefix", l)
		}
	}

	// Follow across a deploy.
	f := startFollow(t, a.dir, "logs", a.name, "-f", "--tail", "1")
	f.waitFor(t, blue, "hello v1 listening")
	a.write(t, spec{image: v2})
	mustLuma(t, a.dir, "deploy", "--release", "r2")
	green := "[" + a.server + " " + a.project + "-" + a.name + "-" + otherColor(color) + "] "
	f.waitFor(t, green, "hello v2 listening on :3000")
	f.waitFor(t, blue, "stopped") // the old container's last line
	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- f.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("luma logs -f after Ctrl-C: %v, want exit 0\n%s", err, f.text())
		}
	case <-time.After(15 * time.Second):
		f.cmd.Process.Kill()
		t.Fatal("luma logs -f did not end on Ctrl-C")
	}
	for _, l := range lines(f.text()) {
		if !strings.HasPrefix(l, blue) && !strings.HasPrefix(l, green) {
			t.Errorf("followed line %q is of neither container", l)
		}
	}
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func validTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// follower is a luma command running in the background, its stdout
// collected line by line.
type follower struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out strings.Builder
}

func startFollow(t *testing.T, dir string, args ...string) *follower {
	t.Helper()
	f := &follower{cmd: exec.Command(lumaBin, args...)}
	f.cmd.Dir = dir
	f.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	f.cmd.Stderr = os.Stderr
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.mu.Lock()
			f.out.WriteString(sc.Text() + "\n")
			f.mu.Unlock()
		}
	}()
	return f
}

func (f *follower) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.String()
}

// waitFor waits for a line with prefix that contains text.
func (f *follower) waitFor(t *testing.T, prefix, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range lines(f.text()) {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, text) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("luma logs -f printed no line %q...%q:\n%s", prefix, text, f.text())
}

// TestLogsFollowEndsWhenOutputCloses: `luma logs -f APP | head -1` ends
// once head does, with exit 0 (luma ignores SIGPIPE, so that a deploy
// whose output closes finishes: a follower must stop on the failed write).
func TestLogsFollowEndsWhenOutputCloses(t *testing.T) {
	a := newFapp(t, "e2elogspipe", "webpipe")
	a.write(t, spec{image: testenv.BuildHello(t, "v1")})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	cmd := startClosingOutput(t, a.dir, "logs", "-f", a.name)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// The app logs nothing per request: a deploy's new container logs
	// its start, and luma's write of it fails.
	mustLuma(t, a.dir, "deploy", "--release", "r2")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("luma logs -f after its output closed: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("luma logs -f went on after its output closed")
	}
}
