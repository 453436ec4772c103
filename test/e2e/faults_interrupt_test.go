package e2e

import (
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/luma-deploy/luma/machine"
)

// Ctrl-C before the switch: the deploy rolls back cleanly and exits 130;
// the old version serves throughout.
func TestInterruptBeforeSwitch(t *testing.T) {
	v1, v2 := images(t)
	a := newFapp(t, "faultintb", "fintb")
	s1 := spec{image: v1}
	a.write(t, s1)
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	from := a.activeColor(t)

	l := startLoad(a.host())
	a.write(t, spec{image: v2, env: []string{"UP_AFTER=60s"}, startPeriod: 30 * time.Second})
	r := startLuma(t, a.dir, "", nil, "deploy", "--release", "r2")
	a.waitState(t, machine.HealthChecking, 30*time.Second)
	r.signal(syscall.SIGINT)
	res := r.wait(30 * time.Second)
	l.check(t, "the interrupted deploy")
	if res.Code != 130 {
		t.Errorf("exit %d, want 130", res.Code)
	}
	for _, line := range []string{"Rolling back: interrupted before the switch", "Cleaning up failed deployment containers...",
		"Rolled back: " + from + " containers still serve"} {
		if !strings.Contains(res.Stdout, line) {
			t.Errorf("output lacks %q", line)
		}
	}
	if !strings.Contains(res.Stderr, "interrupted: deploy of fintb r2 rolled back") {
		t.Errorf("error does not say the deploy was interrupted and rolled back")
	}
	a.assertClean(t, s1, from, "r1", "rolled_back")
	if e := a.status(t).Apps[0].Servers[0].LastError; !strings.Contains(e, "interrupted before the switch") {
		t.Errorf("status last error %q does not say it was interrupted", e)
	}

	// The next deploy has nothing to recover.
	s3 := spec{image: v2}
	a.write(t, s3)
	if r := mustLuma(t, a.dir, "deploy", "--release", "r3"); strings.Contains(r.Stdout, "Recovering") {
		t.Errorf("a clean rollback left something to recover")
	}
	a.assertClean(t, s3, otherColor(from), "r3", "deployed")
}

// Ctrl-C after the switch: the deploy finishes (drain, clean) and exits
// 130; the request in flight on the old version completes.
func TestInterruptAfterSwitch(t *testing.T) {
	v1, v2 := images(t)
	a := newFapp(t, "faultinta", "finta")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	from := a.activeColor(t)

	l := startLoad(a.host())
	var slow sync.WaitGroup
	// The slow request starts once the new set is being health-checked
	// (which takes a second: UP_AFTER), so it is in flight on the old set
	// at the switch however long a loaded machine takes to get there.
	s2 := spec{image: v2, drain: 10 * time.Second, env: []string{"UP_AFTER=1s"}}
	a.write(t, s2)
	r := startLuma(t, a.dir, "Performing health checks", func(*run) {
		slow.Go(func() {
			if code, body, err := get(a.host(), "/slow?ms=4000"); err != nil || code != 200 {
				t.Errorf("request in flight across the interrupted switch: %d %v %q", code, err, body)
			}
		})
	}, "deploy", "--release", "r2")
	a.waitState(t, machine.Draining, 30*time.Second)
	r.signal(syscall.SIGINT)
	res := r.wait(30 * time.Second)
	slow.Wait()
	l.check(t, "the deploy interrupted after the switch")
	if res.Code != 130 {
		t.Errorf("exit %d, want 130", res.Code)
	}
	if !strings.Contains(res.Stdout, "Blue-green deployment completed successfully ✅") ||
		!strings.Contains(res.Stderr, "interrupted after the switch: the deploy of finta r2 was finished") {
		t.Errorf("output does not say the deploy was finished after the interrupt")
	}
	a.assertClean(t, s2, otherColor(from), "r2", "deployed")
}

// TestClosedOutputDoesNotStopADeploy: `luma deploy | head -1` closes
// luma's output after its first line; the deploy still runs to its end
// (a write to a closed pipe must not kill luma midway), and the lock is
// free after it.
func TestClosedOutputDoesNotStopADeploy(t *testing.T) {
	v1, v2 := images(t)
	a := newFapp(t, "faultpipe", "fpipe")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	a.write(t, spec{image: v2})
	cmd := startClosingOutput(t, a.dir, "deploy", "--release", "r2")
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() < 0 {
		t.Fatalf("luma died: %v", err)
	}
	if rec := a.record(t); rec.State != machine.Idle || rec.Release != "r2" || rec.Outcome != "deployed" {
		t.Fatalf("after a deploy whose output closed: %+v (%v)", rec, err)
	}
	if l := a.lock(t); l != nil {
		t.Fatalf("lock left: %+v", l)
	}
}

// startClosingOutput starts luma in dir and closes its output once the
// first byte came, as `luma ... | head -c 1` does.
func startClosingOutput(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(lumaBin, args...)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	if _, err := out.Read(first); err != nil {
		cmd.Process.Kill()
		t.Fatalf("luma %v wrote nothing: %v", args, err)
	}
	out.Close()
	return cmd
}
