package steps

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
)

// guard fails the test when done is not closed in time: it only keeps a
// broken run from hanging the test binary, the test asserts no duration.
func guard(t *testing.T, done <-chan struct{}, what string) bool {
	t.Helper()
	select {
	case <-done:
		return true
	case <-time.After(20 * time.Second):
		t.Errorf("%s: still blocked", what)
		return false
	}
}

// A rollback whose engine call hangs ends within its bound and says what
// it left; the next run finishes it.
func TestRollbackBoundedWhenEngineHangs(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	e.opts.Cleanup = 100 * time.Millisecond
	h.Inject(fake.Fault{Op: "Start", Nth: 1}, fake.Fault{Op: "Remove", Nth: 1, Match: "shop-blog-green", Hang: true})
	var (
		res  Result
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		res, err = e.deploy(bg, "r2")
	}()
	if !guard(t, done, "rollback with a hung engine call") {
		return
	}
	if !errors.Is(err, ErrRollbackUnfinished) || res.Servers[0].Outcome != Failed {
		t.Fatalf("err %v outcome %s", err, res.Servers[0].Outcome)
	}
	for _, want := range []string{"gave up after 100ms", "left on server1", "shop-blog-green", "rolling_back"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	e.settled(h)
	e.mustDeploy("r3", naming.Green)
}

// A proxy that stops answering renewals costs the run its lease: a hung
// Renew is bounded, counts as a failure, and the run rolls back.
func TestLeaseRenewalHangs(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	e.opts.Lease = 30 * time.Millisecond
	lost := make(chan struct{})
	var once sync.Once
	h.Inject(fake.Fault{Op: "Renew", Hang: true})
	out := &notifier{printer: e.out, word: "Lost the deploy lock", fn: func() { once.Do(func() { close(lost) }) }}
	e.out = nil
	h.Inject(fake.Fault{Op: "Probe", Nth: 1, Pass: true, Do: func() {
		select { // the outer guard reports a run that never learns
		case <-lost:
		case <-time.After(30 * time.Second):
		}
	}})
	var (
		err  error
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		o := e.opts
		o.Holder, o.Now = e.holder, h.Clock().Now
		_, err = Deploy(bg, e.release("r2"), e.servers(), out, o)
	}()
	if !guard(t, done, "deploy with hung renewals") {
		return
	}
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("err %v, want the lease lost", err)
	}
	if cs := containerNames(appContainers(h)); len(cs) != 1 || cs[0] != "shop-blog-blue" {
		t.Fatalf("containers %v", cs)
	}
}

// notifier is a printer that calls fn when a line contains word.
type notifier struct {
	*printer
	word string
	fn   func()
}

func (n *notifier) Printf(server, format string, args ...any) {
	n.printer.Printf(server, format, args...)
	if strings.Contains(format, n.word) {
		n.fn()
	}
}
