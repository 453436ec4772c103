package steps

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

var three = []string{"server1", "server2", "server3"}

// No server switches before every server's new containers are healthy.
func TestMultiServerOneSwitch(t *testing.T) {
	e := newEnv(t, 2, three...)
	e.mustDeploy("r1", naming.Blue)
	e.hosts[2].Behave(fake.Behavior{Match: "blog:r2", HealthyAfter: 2, FailStatus: 503}) // the slow one
	var mu sync.Mutex
	var early []string
	for _, h := range e.hosts {
		h.Inject(fake.Fault{Op: "SetRoute", Nth: 1, Pass: true, Do: func() {
			for _, other := range e.hosts {
				if rec, _ := other.Record("shop", "blog"); rec.State != machine.Switching {
					mu.Lock()
					early = append(early, h.Name()+" switched while "+other.Name()+" was "+string(rec.State))
					mu.Unlock()
				}
			}
		}})
	}
	e.mustDeploy("r2", naming.Green)
	if len(early) > 0 {
		t.Fatal(strings.Join(early, "\n"))
	}
	for _, h := range e.hosts {
		if n := len(h.RouteLog("shop/blog")); n != 2 {
			t.Fatalf("[%s] %d route changes", h.Name(), n)
		}
	}
}

// One server that fails before the switch rolls every server back, and no
// route ever moves.
func TestMultiServerOneUnhealthyAllRollBack(t *testing.T) {
	e := newEnv(t, 2, three...)
	e.mustDeploy("r1", naming.Blue)
	for _, p := range e.proxies {
		p.takePath()
	}
	e.hosts[1].Behave(fake.Behavior{Match: "shop-blog-green-2", NeverHealthy: true, FailStatus: 500})
	res, err := e.deploy(bg, "r2")
	if err == nil || !strings.Contains(err.Error(), "[server2] health check of shop-blog-green-2") {
		t.Fatalf("err %v", err)
	}
	for i, h := range e.hosts {
		s := res.Servers[i]
		if s.Outcome != RolledBack || s.Err == nil {
			t.Fatalf("[%s] outcome %s err %v", h.Name(), s.Outcome, s.Err)
		}
		if got := e.proxies[i].takePath(); !slices.Equal(got, states(crt, hc, rb, idle)) {
			t.Fatalf("[%s] path %v", h.Name(), got)
		}
		if n := len(h.RouteLog("shop/blog")); n != 1 {
			t.Fatalf("[%s] route moved: %+v", h.Name(), h.RouteLog("shop/blog"))
		}
		e.serving(h, naming.Blue, "r1")
		if rec, _ := h.Record("shop", "blog"); !strings.Contains(rec.Error, "server2") && h.Name() != "server2" {
			t.Fatalf("[%s] record error %q does not name the failing server", h.Name(), rec.Error)
		}
	}
	if !e.out.has("[server1] Rolling back: [server2] health check of shop-blog-green-2: GET /up returned 500") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

// If one server's swap fails, the servers that swapped are swapped back
// (their old containers were never stopped) and all roll back.
func TestMultiServerSwapFailureSwapsOthersBack(t *testing.T) {
	e := newEnv(t, 1, three...)
	e.mustDeploy("r1", naming.Blue)
	for _, p := range e.proxies {
		p.takePath()
	}
	e.hosts[1].Inject(fake.Fault{Op: "SetRoute", Nth: 1})
	res, err := e.deploy(bg, "r2")
	if err == nil || !strings.Contains(err.Error(), "[server2] switch route") {
		t.Fatalf("err %v", err)
	}
	for i, h := range e.hosts {
		if res.Servers[i].Outcome != RolledBack {
			t.Fatalf("[%s] outcome %s", h.Name(), res.Servers[i].Outcome)
		}
		if got := e.proxies[i].takePath(); !slices.Equal(got, states(crt, hc, sw, rb, idle)) {
			t.Fatalf("[%s] path %v", h.Name(), got)
		}
		var targets [][]string
		for _, ch := range h.RouteLog("shop/blog")[1:] {
			targets = append(targets, ch.Targets)
		}
		want := [][]string{{"shop-blog-green:3000"}, {"shop-blog-blue:3000"}}
		if h.Name() == "server2" {
			want = nil
		}
		if !slices.EqualFunc(targets, want, slices.Equal) {
			t.Fatalf("[%s] route changes %v, want %v", h.Name(), targets, want)
		}
		e.serving(h, naming.Blue, "r1") // includes: blue never stopped while routed
	}
	if !e.out.has("[server1] Switching traffic back to blue containers...") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

// A server whose switch cannot be recorded keeps the new version like the
// others; the run reports it and the next run repairs that server.
func TestMultiServerCommitFailureOnOne(t *testing.T) {
	e := newEnv(t, 1, three...)
	e.mustDeploy("r1", naming.Blue)
	e.hosts[2].Inject(fake.Fault{Op: "Save", Match: "draining", Nth: 1})
	res, err := e.deploy(bg, "r2")
	if !errors.Is(err, ErrAfterSwitch) || !strings.Contains(err.Error(), "[server3]") {
		t.Fatalf("err %v", err)
	}
	for i, h := range e.hosts {
		if r, _ := h.Route("shop/blog"); !slices.Equal(r.Targets, []string{"shop-blog-green:3000"}) {
			t.Fatalf("[%s] route %v", h.Name(), r.Targets)
		}
		want := Deployed
		if i == 2 {
			want = Failed
		}
		if res.Servers[i].Outcome != want {
			t.Fatalf("[%s] outcome %s", h.Name(), res.Servers[i].Outcome)
		}
	}
	// Next run: the others recorded the switch, so server3 finishes it
	// (drains and removes blue r1) and every server deploys r3 in blue.
	e.proxies[2].takePath()
	res, err = e.deploy(bg, "r3")
	if err != nil {
		t.Fatal(err)
	}
	if res.Servers[2].Recovered != machine.Switching {
		t.Fatalf("server3 recovered %q", res.Servers[2].Recovered)
	}
	if !strings.Contains(e.out.text(), "[server3] Recovering: the deploy of r2 by") || !strings.Contains(e.out.text(), "in switching; it switched on server1, finishing it first") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
	if got := e.proxies[2].takePath(); !slices.Equal(got, append(states(dr, cl, idle), deployPath...)) {
		t.Fatalf("[server3] path %v", got)
	}
	for _, h := range e.hosts {
		e.serving(h, naming.Blue, "r3")
	}
}

// A run that dies while the servers record their switch leaves some
// records in draining and one in switching, with every route on the new
// set. The next run finishes the switch on that one too, so every server
// ends on one color; if its new containers died meanwhile, that server
// alone is put back on the old set first.
func TestMultiServerDiesWhileRecordingTheSwitch(t *testing.T) {
	for _, crashed := range []bool{false, true} {
		e := newEnv(t, 2, three...)
		e.mustDeploy("r1", naming.Blue)
		dead := make([]*fake.Host, len(e.hosts))
		for i, h := range e.hosts {
			at := fake.Fault{Op: "Drain", Nth: 1}
			if i == 2 {
				at = fake.Fault{Op: "Save", Match: "draining", Nth: 1}
			}
			at.Do = func() {
				if dead[i] == nil {
					dead[i] = h.Clone()
				}
			}
			h.Inject(at)
		}
		e.deploy(bg, "r2") // "dies" at the faults
		for i, want := range states(dr, dr, sw) {
			if rec, _ := dead[i].Record("shop", "blog"); rec.State != want {
				t.Fatalf("[%s] dead run left %s, want %s", dead[i].Name(), rec.State, want)
			}
			if r, _ := dead[i].Route("shop/blog"); !slices.Equal(r.Targets, []string{"shop-blog-green-1:3000", "shop-blog-green-2:3000"}) {
				t.Fatalf("[%s] dead run left the route on %v", dead[i].Name(), r.Targets)
			}
		}
		for i, h := range dead {
			h.Clock().Advance(31 * time.Second)
			e.setHost(i, h)
		}
		if crashed {
			dead[2].Crash("shop-blog-green-1", 137)
		}
		e.out.reset()
		e.holder = "bob@ci pid 7"
		res, err := e.deploy(bg, "r3")
		if err != nil {
			t.Fatalf("crashed %v: %v\n%s", crashed, err, e.out.text())
		}
		text := e.out.text()
		for i, h := range e.hosts {
			if res.Servers[i].Outcome != Deployed {
				t.Fatalf("[%s] outcome %s", h.Name(), res.Servers[i].Outcome)
			}
			color := naming.Blue
			if crashed && i == 2 {
				color = naming.Green
			}
			e.serving(h, color, "r3")
		}
		if !strings.Contains(text, "[server3] Recovering: the deploy of r2 by alice@laptop pid 100 died (its lock lease expired) in switching; it switched on server1, finishing it first") {
			t.Fatalf("crashed %v: no forward recovery on server3:\n%s", crashed, text)
		}
		back := strings.Contains(text, "[server3] Could not finish the switch: ")
		if back != crashed || crashed && !strings.Contains(text, "[server3] Rolled back: blue containers still serve") {
			t.Fatalf("crashed %v: server3 rolled back %v:\n%s", crashed, back, text)
		}
	}
}

// A server added to the app's servers takes the color the others deploy
// to, so one deploy leaves one color everywhere.
func TestNewServerJoinsTheOthersColor(t *testing.T) {
	e := newEnv(t, 1, "server1", "server2")
	e.mustDeploy("r1", naming.Blue)
	e.setHost(2, fake.NewHost("server3"))
	e.out.reset()
	e.mustDeploy("r2", naming.Green)
	if !e.out.has("[server3] No active version, deploying: green") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}
