package fake

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

var bg = context.Background()

func newApp(t *testing.T) *Host {
	t.Helper()
	h := NewHost("s1")
	h.AddImage("app:1")
	if err := h.EnsureNetwork(bg, "p-network", nil); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestFaultNthMatchAndEvery(t *testing.T) {
	h := newApp(t)
	boom := errors.New("boom")
	h.Inject(Fault{Op: "Create", Nth: 2, Match: "b", Err: boom}, Fault{Op: "Start", Match: "c"})
	for _, n := range []string{"a", "b", "c"} {
		if err := h.Create(bg, drivers.ContainerSpec{Name: n, Image: "app:1", Network: "p-network"}); err != nil {
			t.Fatalf("create %s: %v (only the 2nd create of b fails)", n, err)
		}
	}
	h.Remove(bg, "b")
	if err := h.Create(bg, drivers.ContainerSpec{Name: "b", Image: "app:1", Network: "p-network"}); !errors.Is(err, boom) {
		t.Fatalf("2nd create of b: %v, want boom", err)
	}
	for range 2 {
		if err := h.Start(bg, "c"); !errors.Is(err, ErrInjected) {
			t.Fatalf("start c: %v, want ErrInjected every time", err)
		}
	}
	if err := h.Start(bg, "a"); err != nil {
		t.Fatal(err)
	}
	if h.Calls("Create") != 4 || h.Calls("Start") != 3 {
		t.Fatalf("calls: create %d start %d", h.Calls("Create"), h.Calls("Start"))
	}
}

func TestFaultHangPassAndDo(t *testing.T) {
	h := newApp(t)
	ctx, cancel := context.WithCancel(bg)
	h.Inject(Fault{Op: "Probe", Nth: 1, Hang: true, Do: cancel})
	if _, err := h.Probe(ctx, "x:1", "/up", time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("hung probe: %v", err)
	}
	ran := false
	h.Inject(Fault{Op: "Routes", Pass: true, Do: func() { ran = true }})
	if _, err := h.Routes(bg); err != nil || !ran {
		t.Fatalf("pass: %v, hook ran %v", err, ran)
	}
}

func TestContainersAndBehaviours(t *testing.T) {
	h := newApp(t)
	h.Behave(
		Behavior{Match: "slow", HealthyAfter: 2, FailStatus: 503},
		Behavior{Match: "loop", CrashOnStart: "restarting", ExitCode: 1},
		Behavior{Match: "flaky", CrashAfterHealthy: 1, ExitCode: 2},
	)
	for _, n := range []string{"slow", "loop", "flaky"} {
		if err := h.Create(bg, drivers.ContainerSpec{Name: n, Image: "app:1", Network: "p-network", Labels: map[string]string{"k": n}}); err != nil {
			t.Fatal(err)
		}
		if err := h.Start(bg, n); err != nil {
			t.Fatal(err)
		}
	}
	var got []int
	for range 3 {
		p, _ := h.Probe(bg, "slow:80", "/up", time.Second)
		got = append(got, p.Status)
	}
	if !slices.Equal(got, []int{503, 503, 200}) {
		t.Fatalf("slow probes %v", got)
	}
	c, _ := h.Inspect(bg, "loop")
	if c.State != "restarting" || c.RestartCount != 1 || c.Running() {
		t.Fatalf("loop: %+v", c)
	}
	if p, _ := h.Probe(bg, "flaky:80", "/up", time.Second); !p.Healthy() {
		t.Fatal("flaky's first probe fails")
	}
	if c, _ := h.Inspect(bg, "flaky"); c.State != "exited" || c.ExitCode != 2 {
		t.Fatalf("flaky after its healthy probe: %+v", c)
	}
	if p, _ := h.Probe(bg, "flaky:80", "/up", time.Second); p.Status != 0 || p.Error == "" {
		t.Fatalf("probe of an exited container: %+v", p)
	}
	if cs, _ := h.List(bg, map[string]string{"k": "slow"}); len(cs) != 1 || cs[0].Name != "slow" {
		t.Fatalf("list by label: %v", cs)
	}
	// Aliases cannot be edited in place.
	if err := h.Connect(bg, "p-network", "slow", []string{"app"}); !errors.Is(err, drivers.ErrConflict) {
		t.Fatalf("second connect: %v", err)
	}
	if err := h.Disconnect(bg, "p-network", "slow"); err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(bg, "p-network", "slow", []string{"app"}); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Inspect(bg, "slow"); !slices.Equal(c.Networks["p-network"], []string{"app"}) {
		t.Fatalf("aliases %v", c.Networks)
	}
	if err := h.Create(bg, drivers.ContainerSpec{Name: "x", Image: "nope:1"}); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("create from a missing image: %v", err)
	}
}

func TestRoutesDrainAndViolations(t *testing.T) {
	h := newApp(t)
	for _, n := range []string{"a", "b"} {
		h.Create(bg, drivers.ContainerSpec{Name: n, Image: "app:1", Network: "p-network"})
		h.Start(bg, n)
	}
	prev, err := h.SetRoute(bg, drivers.Route{App: "p/app", Targets: []string{"a:80"}})
	if err != nil || len(prev.Targets) != 0 {
		t.Fatalf("first route: %v %v", prev, err)
	}
	prev, _ = h.SetRoute(bg, drivers.Route{App: "p/app", Targets: []string{"b:80"}})
	if !slices.Equal(prev.Targets, []string{"a:80"}) {
		t.Fatalf("replaced %v", prev)
	}
	if r, _ := h.Route("p/app"); !slices.Equal(r.Draining, []string{"a:80"}) {
		t.Fatalf("draining %v", r.Draining)
	}
	h.Stop(bg, "a", time.Second) // before its drain ended
	h.Stop(bg, "b", time.Second) // while served
	h.SetInFlight("a:80", 2)
	if n, _ := h.Drain(bg, "p/app", []string{"a:80"}, time.Second); n != 2 {
		t.Fatalf("remaining %d", n)
	}
	h.SetRoute(bg, drivers.Route{App: "p/app", Targets: []string{"a:80"}}) // a is not running
	if v := h.Violations(); len(v) != 3 {
		t.Fatalf("violations %q", v)
	}
	if log := h.RouteLog("p/app"); len(log) != 3 || !slices.Equal(log[1].Targets, []string{"b:80"}) || log[0].Seq >= log[1].Seq {
		t.Fatalf("log %+v", log)
	}
}

func TestLocksLeasesAndRecords(t *testing.T) {
	h := NewHost("s1")
	h.Save(bg, machine.Record{Project: "p", App: "a", State: machine.Creating})
	if took, err := h.Lock(bg, "p/a", "alice", time.Minute); err != nil || took {
		t.Fatalf("lock: %v %v", took, err)
	}
	_, err := h.Lock(bg, "p/a", "bob", time.Minute)
	var held *drivers.LockedError
	if !errors.As(err, &held) || held.Lock.Holder != "alice" || held.Lock.State != machine.Creating {
		t.Fatalf("bob's lock: %v", err)
	}
	h.Clock().Advance(30 * time.Second)
	if err := h.Renew(bg, "p/a", "alice", time.Minute); err != nil {
		t.Fatal(err)
	}
	h.Clock().Advance(59 * time.Second)
	if _, err := h.Lock(bg, "p/a", "bob", time.Minute); err == nil {
		t.Fatal("renewed lease not honoured")
	}
	h.Clock().Advance(2 * time.Second)
	if took, err := h.Lock(bg, "p/a", "bob", time.Minute); err != nil || !took {
		t.Fatalf("takeover of an expired lease: %v %v", took, err)
	}
	if err := h.Unlock(bg, "p/a", "alice"); err == nil {
		t.Fatal("alice unlocked bob's lock")
	}
	if err := h.Unlock(bg, "p/a", "bob"); err != nil {
		t.Fatal(err)
	}
	if ls, _ := h.Locks(bg); len(ls) != 0 {
		t.Fatalf("locks %v", ls)
	}
	if _, err := h.Load(bg, "p", "zz"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("load missing: %v", err)
	}
	h.Inject(Fault{Op: "Save", Match: string(machine.Draining)})
	if err := h.Save(bg, machine.Record{Project: "p", App: "a", State: machine.Draining}); err == nil {
		t.Fatal("save of a draining record did not fail")
	}
	if r, _ := h.Load(bg, "p", "a"); r.State != machine.Creating {
		t.Fatalf("record %v", r.State)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	h := newApp(t)
	h.Create(bg, drivers.ContainerSpec{Name: "a", Image: "app:1", Network: "p-network", Labels: map[string]string{"x": "1"}})
	c := h.Clone()
	h.Remove(bg, "a")
	if _, err := c.Inspect(bg, "a"); err != nil {
		t.Fatalf("clone lost a: %v", err)
	}
	c.Clock().Advance(time.Hour)
	if h.Clock().Now().Equal(c.Clock().Now()) {
		t.Fatal("clocks are shared")
	}
}

func TestConcurrentUse(t *testing.T) {
	h := newApp(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			n := string(rune('a' + i))
			h.Create(bg, drivers.ContainerSpec{Name: n, Image: "app:1", Network: "p-network"})
			h.Start(bg, n)
			h.Probe(bg, n+":80", "/up", time.Second)
			h.SetRoute(bg, drivers.Route{App: "p/app", Targets: []string{n + ":80"}})
			h.Save(bg, machine.Record{Project: "p", App: n})
		})
	}
	wg.Wait()
	if len(h.Containers()) != 20 || len(h.RouteLog("p/app")) != 20 {
		t.Fatalf("%d containers, %d route changes", len(h.Containers()), len(h.RouteLog("p/app")))
	}
}

func TestExecStream(t *testing.T) {
	h := newApp(t)
	if err := h.Create(bg, drivers.ContainerSpec{Name: "c", Image: "app:1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ExecStream(bg, "c", []string{"cat"}); err == nil {
		t.Fatal("ExecStream in a stopped container: no error")
	}
	if err := h.Start(bg, "c"); err != nil {
		t.Fatal(err)
	}
	s, err := h.ExecStream(bg, "c", []string{"cat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("line\n")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if out, err := io.ReadAll(s.Stdout()); err != nil || len(out) != 0 {
		t.Fatalf("stdout = %q, %v", out, err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	h.Inject(Fault{Op: "ExecStream", Err: boom})
	if _, err := h.ExecStream(bg, "c", nil); !errors.Is(err, boom) {
		t.Fatalf("injected fault: %v", err)
	}
}

func TestForget(t *testing.T) {
	h := NewHost("s1")
	h.Save(bg, machine.Record{Project: "p", App: "a", State: machine.Idle})
	h.Save(bg, machine.Record{Project: "p", App: "b", State: machine.Idle})
	if err := h.Forget(bg, "p", "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Record("p", "a"); ok {
		t.Fatal("forgotten record is still there")
	}
	if _, ok := h.Record("p", "b"); !ok {
		t.Fatal("another app's record went too")
	}
	if err := h.Forget(bg, "p", "a"); err != nil {
		t.Fatalf("forget again: %v", err)
	}
	h.Inject(Fault{Op: "Forget", Match: "p/b"})
	if err := h.Forget(bg, "p", "b"); !errors.Is(err, ErrInjected) {
		t.Fatalf("injected fault: %v", err)
	}
	if _, ok := h.Record("p", "b"); !ok {
		t.Fatal("a failed forget deleted the record")
	}
	if n := h.Calls("Forget"); n != 3 {
		t.Fatalf("Forget calls = %d, want 3", n)
	}
}
