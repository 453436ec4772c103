package steps

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
)

func TestLockHeldByLiveHolder(t *testing.T) {
	e := newEnv(t, 1, "server1", "server2")
	e.mustDeploy("r1", naming.Blue)
	h2 := e.hosts[1]
	h2.Lock(bg, "shop/blog", "carol@ci pid 9", time.Minute)
	saves := e.hosts[0].Calls("Save")
	res, err := e.deploy(bg, "r2")
	var held *drivers.LockedError
	if !errors.As(err, &held) {
		t.Fatalf("err %v, want a LockedError", err)
	}
	for _, want := range []string{"[server2]", "held by carol@ci pid 9", "since 2025-01-01T12:00:00Z", "(state idle)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if res.Servers[1].Outcome != Failed || res.Servers[1].Err == nil {
		t.Fatalf("result %+v", res.Servers[1])
	}
	// Nothing changed anywhere; the lock taken on server1 was given back.
	if e.hosts[0].Calls("Save") != saves || e.hosts[0].Calls("Create") != 1 {
		t.Fatal("server1 was changed")
	}
	e.serving(e.hosts[0], naming.Blue, "r1")
	if l, _ := h2.Lease("shop/blog"); l.Holder != "carol@ci pid 9" {
		t.Fatalf("carol's lock: %+v", l)
	}
}

func TestLockWait(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	h.Lock(bg, "shop/blog", "carol@ci pid 9", time.Minute)
	e.opts.LockWait = 500 * time.Millisecond
	// carol finishes once we are waiting.
	h.Inject(fake.Fault{Op: "Lock", Nth: 2, Pass: true, Do: func() { h.Unlock(bg, "shop/blog", "carol@ci pid 9") }})
	e.mustDeploy("r1", naming.Blue)
	if !e.out.has("[server1] Waiting for the deploy lock held by carol@ci pid 9 since 2025-01-01T12:00:00Z (state )...") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

func TestLockWaitInterrupted(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	h.Lock(bg, "shop/blog", "carol@ci pid 9", time.Minute)
	e.opts.LockWait = 500 * time.Millisecond
	ctx, cancel := context.WithCancel(bg)
	h.Inject(fake.Fault{Op: "Lock", Nth: 2, Pass: true, Do: cancel})
	_, err := e.deploy(ctx, "r1")
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err %v", err)
	}
	if h.Calls("Save") != 0 || h.Calls("Create") != 0 {
		t.Fatal("something changed")
	}
}

// A second deploy of the same app while one runs fails at once, naming the
// first and its state.
func TestConcurrentDeploys(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	var second error
	h.Inject(fake.Fault{Op: "Probe", Nth: 1, Pass: true, Do: func() {
		other := *e
		other.out = &printer{}
		other.holder = "bob@ci pid 8"
		_, second = other.deploy(bg, "r9")
	}})
	e.mustDeploy("r1", naming.Blue)
	var held *drivers.LockedError
	if !errors.As(second, &held) || held.Lock.Holder != e.holder || held.Lock.State != hc {
		t.Fatalf("second deploy: %v", second)
	}
}

// The lease is renewed while the run works.
func TestLeaseRenewed(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.opts.Lease = 30 * time.Millisecond
	renewed := make(chan struct{})
	h.Inject(fake.Fault{Op: "Renew", Nth: 2, Pass: true, Do: func() { close(renewed) }})
	h.Inject(fake.Fault{Op: "Probe", Nth: 1, Pass: true, Do: func() { guard(t, renewed, "second renewal") }})
	e.mustDeploy("r1", naming.Blue)
	if h.Calls("Renew") < 2 {
		t.Fatalf("%d renewals", h.Calls("Renew"))
	}
}

// A run whose lock was taken from it rolls back before the switch.
func TestLeaseLostRollsBack(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	e.opts.Lease = 30 * time.Millisecond
	e.app.Health.Retries = 1 << 30
	h.Behave(fake.Behavior{Match: "blog:r2", NeverHealthy: true, FailStatus: 503})
	h.Inject(fake.Fault{Op: "Probe", Nth: 1, Pass: true, Do: func() {
		h.Clock().Advance(time.Minute)
		h.Lock(bg, "shop/blog", "mallory pid 1", time.Hour)
	}})
	res, err := e.deploy(bg, "r2")
	if !errors.Is(err, ErrLeaseLost) || res.Servers[0].Outcome != RolledBack {
		t.Fatalf("err %v outcome %s", err, res.Servers[0].Outcome)
	}
	if cs := containerNames(appContainers(h)); len(cs) != 1 || cs[0] != "shop-blog-blue" {
		t.Fatalf("containers %v", cs)
	}
	if !e.out.has("[server1] Could not release the deploy lock") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

// With --lock-wait, a lock already taken is renewed while the run waits
// for a later server's: else it expires and another run can take it.
func TestLockWaitKeepsTakenLeases(t *testing.T) {
	e := newEnv(t, 1, "server1", "server2")
	h1, h2 := e.hosts[0], e.hosts[1]
	h2.Lock(bg, "shop/blog", "carol@ci pid 9", time.Minute)
	e.opts.Lease = 30 * time.Millisecond
	e.opts.LockWait = 500 * time.Millisecond
	renewed := make(chan struct{})
	h1.Inject(fake.Fault{Op: "Renew", Nth: 1, Pass: true, Do: func() { close(renewed) }})
	// While the run waits for server2, server1's lease must be renewed;
	// then carol finishes. The bound only keeps a broken run from hanging.
	h2.Inject(fake.Fault{Op: "Lock", Nth: 2, Pass: true, Do: func() {
		guard(t, renewed, "renewal of server1's lock while the run waits for server2's")
		h2.Unlock(bg, "shop/blog", "carol@ci pid 9")
	}})
	e.mustDeploy("r1", naming.Blue)
}

// A lock taken first and lost while the run waits for a later one stops
// the wait: nothing was changed, and the run says why.
func TestLeaseLostWhileWaiting(t *testing.T) {
	e := newEnv(t, 1, "server1", "server2")
	h1, h2 := e.hosts[0], e.hosts[1]
	h2.Lock(bg, "shop/blog", "carol@ci pid 9", time.Minute)
	e.opts.Lease = 30 * time.Millisecond
	e.opts.LockWait = time.Hour
	h2.Inject(fake.Fault{Op: "Lock", Nth: 2, Pass: true, Do: func() {
		h1.Clock().Advance(time.Minute)
		h1.Lock(bg, "shop/blog", "mallory pid 1", time.Hour)
	}})
	res, err := e.deploy(bg, "r1")
	if !errors.Is(err, ErrLeaseLost) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err %v", err)
	}
	for i, h := range e.hosts {
		if res.Servers[i].Outcome != Failed || h.Calls("Save") != 0 || h.Calls("Create") != 0 {
			t.Fatalf("[%s] outcome %s, %d saves, %d creates", h.Name(), res.Servers[i].Outcome, h.Calls("Save"), h.Calls("Create"))
		}
	}
	if l, _ := h1.Lease("shop/blog"); l.Holder != "mallory pid 1" {
		t.Fatalf("server1 lock %+v", l)
	}
}
