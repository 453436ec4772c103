package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// HelloProcess is what examples/hello does when run attached with cmd
// (exec'd or as a one-off's command) in a container whose environment is
// env, for a fake to answer Sessions as the image does: the commands of
// HelloTool plus `echo`, `env` and `sleep`; an executable other than
// /hello is not found (126 and the reason, as Engine 20.10's exec says). It models no
// terminal: `hello tty` is for the real engine only.
func HelloProcess(ctx context.Context, cmd, env []string, s drivers.Stdio) int {
	if len(cmd) == 0 || cmd[0] != "/hello" {
		name := "(none)"
		if len(cmd) > 0 {
			name = cmd[0]
		}
		fmt.Fprintf(s.Stdout, "OCI runtime exec failed: exec failed: unable to start container process: exec: %q: stat %s: no such file or directory: unknown\r\n", name, name)
		return 126
	}
	args := cmd[1:]
	if len(args) == 0 {
		return 0 // the server: nothing to model
	}
	switch args[0] {
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(args[1:], " "))
		return 0
	case "env":
		code := 0
		for _, k := range args[1:] {
			found := false
			for _, kv := range env {
				if v, ok := strings.CutPrefix(kv, k+"="); ok {
					fmt.Fprintf(s.Stdout, "%s=%s\n", k, v)
					found = true
				}
			}
			if !found {
				fmt.Fprintf(s.Stderr, "%s is not set\n", k)
				code = 1
			}
		}
		return code
	case "sleep":
		d, err := time.ParseDuration(strings.Join(args[1:], ""))
		if err != nil {
			fmt.Fprintln(s.Stderr, "sleep:", err)
			return 2
		}
		fmt.Fprintln(s.Stdout, "sleeping", d)
		select {
		case <-ctx.Done(): // stopped: SIGTERM, which it does not handle
			return 143
		case <-time.After(d):
			return 0
		}
	}
	var stdin []byte
	if s.Stdin != nil {
		stdin, _ = io.ReadAll(s.Stdin)
	}
	stdout, stderr, code := HelloTool(cmd, stdin)
	s.Stdout.Write(stdout)
	s.Stderr.Write(stderr)
	return code
}

// attached runs fn with buffers as stdout and stderr and returns them.
func attached(in io.Reader, fn func(drivers.Stdio) (int, error)) (code int, stdout, stderr string, err error) {
	var out, errb syncBuffer
	code, err = fn(drivers.Stdio{Stdin: in, Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String(), err
}

// notFound stands for the code of a command the engine cannot find: 126
// (Engine 20.10's exec) or 127 (docker run, newer engines).
const notFound = -127

func testAttach(t *testing.T, v *env) {
	s := v.Sessions
	exec := func(name string, in io.Reader, cmd ...string) (int, string, string, error) {
		return attached(in, func(io drivers.Stdio) (int, error) {
			return s.Attach(ctx(t), name, drivers.ExecSpec{Cmd: cmd, Stdio: io})
		})
	}
	if _, _, _, err := exec(v.name("missing"), nil, "/hello", "echo"); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Attach in a missing container: %v, want ErrNotFound", err)
	}
	spec := v.spec("attach")
	spec.Env = []string{"LUMA_CONTRACT=yes"}
	v.create(t, spec)
	if _, _, _, err := exec(spec.Name, nil, "/hello", "echo"); err == nil || errors.Is(err, drivers.ErrNotFound) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Attach in a created container: %v, want a 'not running' error", err)
	}
	v.start(t, spec.Name)

	for _, tc := range []struct {
		cmd                 []string
		stdin               io.Reader
		code                int
		stdout, stderr, has string
	}{
		{cmd: []string{"/hello", "exit", "3", "oops"}, code: 3, stderr: "oops\n"},
		{cmd: []string{"/hello", "echo", "hi", "there"}, stdout: "hi there\n"},
		{cmd: []string{"/hello", "cat"}, stdin: strings.NewReader("one\ntwo\n"), stdout: "one\ntwo\n"},
		{cmd: []string{"/hello", "cat"}}, // no stdin: EOF at once
		// An exec'd command has the container's environment.
		{cmd: []string{"/hello", "env", "LUMA_CONTRACT"}, stdout: "LUMA_CONTRACT=yes\n"},
		// Not found: the engine's reason and its code, 126 or 127.
		{cmd: []string{"/nosuch", "x"}, code: notFound, has: `"/nosuch"`},
	} {
		code, stdout, stderr, err := exec(spec.Name, tc.stdin, tc.cmd...)
		switch {
		case err != nil:
			t.Errorf("Attach %q: %v", tc.cmd, err)
		case code != tc.code && !(tc.code == notFound && (code == 126 || code == 127)):
			t.Errorf("Attach %q: exit %d, want %d (stdout %q, stderr %q)", tc.cmd, code, tc.code, stdout, stderr)
		case tc.has != "" && !strings.Contains(stdout+stderr, tc.has):
			t.Errorf("Attach %q: stdout %q, stderr %q, want %q in them", tc.cmd, stdout, stderr, tc.has)
		case tc.has == "" && (stdout != tc.stdout || stderr != tc.stderr):
			t.Errorf("Attach %q: stdout %q, stderr %q; want %q, %q", tc.cmd, stdout, stderr, tc.stdout, tc.stderr)
		}
	}

	// Cancelling ends a session whose command waits for more input.
	c, cancel := context.WithCancel(ctx(t))
	in, w := io.Pipe()
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		_, err := s.Attach(c, spec.Name, drivers.ExecSpec{Cmd: []string{"/hello", "cat"}, Stdio: drivers.Stdio{Stdin: in, Stdout: io.Discard, Stderr: io.Discard}})
		done <- err
	}()
	io.WriteString(w, "more\n")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Attach cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Attach did not return after its context was cancelled")
	}
}

func testRunOnce(t *testing.T, v *env) {
	s := v.Sessions
	netName := v.network(t)
	run := func(c context.Context, what string, in io.Reader, stdout io.Writer, cmd ...string) (drivers.ContainerSpec, int, string, string, error) {
		spec := v.spec(what)
		spec.Env = []string{"LUMA_SECRET=s3cr3t"}
		spec.Network = netName
		spec.Cmd = cmd
		var out, errb syncBuffer
		var w io.Writer = &out
		if stdout != nil {
			w = io.MultiWriter(&out, stdout)
		}
		code, err := s.RunOnce(c, drivers.RunSpec{Container: spec, Stdio: drivers.Stdio{Stdin: in, Stdout: w, Stderr: &errb}})
		return spec, code, out.String(), errb.String(), err
	}
	gone := func(name string) {
		t.Helper()
		if _, err := v.e.Inspect(ctx(t), name); !errors.Is(err, drivers.ErrNotFound) {
			t.Errorf("one-off %s left behind: %v", name, err)
		}
	}

	spec, code, stdout, stderr, err := run(ctx(t), "once-env", nil, nil, "/hello", "env", "LUMA_SECRET")
	if err != nil || code != 0 || stdout != "LUMA_SECRET=s3cr3t\n" || stderr != "" {
		t.Errorf("RunOnce env: exit %d, %v, stdout %q, stderr %q", code, err, stdout, stderr)
	}
	gone(spec.Name)

	spec, code, stdout, stderr, err = run(ctx(t), "once-exit", nil, nil, "/hello", "exit", "4", "bye")
	if err != nil || code != 4 || stdout != "" || stderr != "bye\n" {
		t.Errorf("RunOnce exit 4: exit %d, %v, stdout %q, stderr %q", code, err, stdout, stderr)
	}
	gone(spec.Name)

	spec, code, stdout, _, err = run(ctx(t), "once-cat", strings.NewReader("abc\n"), nil, "/hello", "cat")
	if err != nil || code != 0 || stdout != "abc\n" {
		t.Errorf("RunOnce cat: exit %d, %v, stdout %q", code, err, stdout)
	}
	gone(spec.Name)

	// Not found: the engine's reason and 126 or 127, as docker run.
	spec, code, stdout, stderr, err = run(ctx(t), "once-nosuch", nil, nil, "/nosuch")
	if err != nil || (code != 126 && code != 127) || !strings.Contains(stdout+stderr, `"/nosuch"`) {
		t.Errorf("RunOnce of a missing executable: exit %d, %v, stdout %q, stderr %q", code, err, stdout, stderr)
	}
	gone(spec.Name)

	// Cancelled while it runs: stopped and removed.
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	started := &notify{want: "sleeping", do: cancel}
	spec, _, _, _, err = run(c, "once-cancel", nil, started, "/hello", "sleep", "2m")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("RunOnce cancelled: %v, want context.Canceled", err)
	}
	gone(spec.Name)

	spec = v.spec("once-noimage")
	spec.Image = "luma-contract-missing:" + v.run
	if _, err := s.RunOnce(ctx(t), drivers.RunSpec{Container: spec, Stdio: drivers.Stdio{Stdout: io.Discard, Stderr: io.Discard}}); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("RunOnce of a missing image: %v, want ErrNotFound", err)
	}
	gone(spec.Name)
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// notify runs do once what was written contains want.
type notify struct {
	syncBuffer
	want string
	once sync.Once
	do   func()
}

func (n *notify) Write(p []byte) (int, error) {
	k, err := n.syncBuffer.Write(p)
	if strings.Contains(n.String(), n.want) {
		n.once.Do(n.do)
	}
	return k, err
}
