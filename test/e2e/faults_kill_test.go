package e2e

import (
	"fmt"
	"os"
	"os/user"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/luma-deploy/luma/machine"
)

// killCase is a deploy of v2 over v1 that a test breaks in one state.
type killCase struct {
	project, app string
	state        machine.State
	v1, v2       func(v1, v2 string) spec // the specs of both deploys
	// Either a stdout line to act on at once (for states too short to
	// poll), or "" to poll the record for state.
	line string
	slow int // ms of a request started on v1 before the deploy; 0: none
}

// TestKill* kill luma (SIGKILL) in each state of a deploy of v2 over v1,
// under load, then check that status tells where it died, that another
// deploy meets the lock until the dead run's lease ends, and that the next
// deploy recovers (back before the switch, forward after it) and deploys.
func TestKillInCreating(t *testing.T) {
	killIn(t, killCase{project: "faultkillcr", app: "fkillcr", state: machine.Creating,
		line: "Creating container faultkillcr-fkillcr-"})
}

func TestKillInHealthChecking(t *testing.T) {
	killIn(t, killCase{project: "faultkillhc", app: "fkillhc", state: machine.HealthChecking,
		v2: func(_, v2 string) spec {
			return spec{image: v2, env: []string{"UP_AFTER=60s"}, startPeriod: 30 * time.Second}
		}})
}

func TestKillInSwitching(t *testing.T) {
	killIn(t, killCase{project: "faultkillsw", app: "fkillsw", state: machine.Switching,
		line: "Switching traffic to"})
}

func TestKillInDraining(t *testing.T) {
	killIn(t, killCase{project: "faultkilldr", app: "fkilldr", state: machine.Draining, slow: 6000,
		v2: func(_, v2 string) spec { return spec{image: v2, drain: 15 * time.Second} }})
}

func TestKillInCleaning(t *testing.T) {
	// v1 lingers 4s after SIGTERM, so the old set's stop takes that long.
	killIn(t, killCase{project: "faultkillcl", app: "fkillcl", state: machine.Cleaning,
		v1: func(v1, _ string) spec {
			return spec{image: v1, env: []string{"STOP_DELAY=4s"}, stop: 10 * time.Second}
		}})
}

func TestKillInRollingBack(t *testing.T) {
	killIn(t, killCase{project: "faultkillrb", app: "fkillrb", state: machine.RollingBack,
		line: "Cleaning up failed deployment containers...",
		v2:   func(_, v2 string) spec { return spec{image: v2, env: []string{"UP_STATUS=500"}} }})
}

func killIn(t *testing.T, c killCase) {
	img1, img2 := images(t)
	s1, s2 := spec{image: img1}, spec{image: img2}
	if c.v1 != nil {
		s1 = c.v1(img1, img2)
	}
	if c.v2 != nil {
		s2 = c.v2(img1, img2)
	}
	a := newFapp(t, c.project, c.app)
	a.write(t, s1)
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	from := a.activeColor(t)
	to := otherColor(from)

	l := startLoad(a.host())
	var slow sync.WaitGroup
	if c.slow > 0 {
		slow.Go(func() {
			code, body, err := get(a.host(), fmt.Sprintf("/slow?ms=%d", c.slow))
			if err != nil || code != 200 {
				t.Errorf("request in flight on %s while luma died in %s: %d %v %q", from, c.state, code, err, body)
			}
		})
		time.Sleep(100 * time.Millisecond) // let it reach the app
	}

	a.write(t, s2)
	args := []string{"deploy", "--release", "r2", "--lease", shortLease}
	var r *run
	if c.line != "" {
		r = startLuma(t, a.dir, c.line, func(r *run) { r.signal(syscall.SIGKILL) }, args...)
		r.wait(60 * time.Second)
	} else {
		r = startLuma(t, a.dir, "", nil, args...)
		a.waitState(t, c.state, 30*time.Second)
		r.kill()
	}
	if got := a.record(t).State; got != c.state {
		t.Fatalf("luma was killed in %s, want %s", got, c.state)
	}

	// While the dead run's lease lasts, another deploy fails and says who
	// holds the lock, since when, in which state.
	held := luma(t, a.dir, "deploy", "--release", "r3")
	if held.Code != 5 || !strings.Contains(held.Stderr, fmt.Sprintf("held by %s since ", holderOf(r))) ||
		!strings.Contains(held.Stderr, fmt.Sprintf("(state %s)", c.state)) {
		t.Errorf("deploy during the dead run's lease: exit %d, want 5 naming holder %q and state %s\n%s", held.Code, holderOf(r), c.state, held)
	}

	a.waitLeaseExpired(t)
	active := from
	if machine.Switched(c.state) {
		active = to
	}
	a.assertStopped(t, c.state, active)

	// The next deploy recovers, then deploys r3 over the recovered color.
	a.write(t, spec{image: img2, replicas: s2.replicas})
	rec := luma(t, a.dir, "deploy", "--release", "r3", "--lock-wait", "10s")
	how := "rolling it back first"
	if machine.Switched(c.state) {
		how = "finishing it first"
	}
	want := fmt.Sprintf("Recovering: the deploy of r2 by %s died (its lock lease expired) in %s", holderOf(r), c.state)
	if rec.Code != 0 || !strings.Contains(rec.Stdout, want) || !strings.Contains(rec.Stdout, how) {
		t.Errorf("recovering deploy: exit %d, want 0 with %q … %q", rec.Code, want, how)
	}
	slow.Wait()
	l.check(t, "the killed deploy and its recovery")
	a.assertClean(t, s2, otherColor(active), "r3", "deployed")
}

// holderOf is how luma names a run in locks: user@host pid N.
func holderOf(r *run) string {
	u, _ := user.Current()
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s pid %d", u.Username, host, r.cmd.Process.Pid)
}
