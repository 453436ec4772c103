package steps

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

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
	// Next run: server3 is rolled back to blue r1 first, so it deploys r3
	// in green while the others, on green, deploy r3 in blue.
	res, err = e.deploy(bg, "r3")
	if err != nil {
		t.Fatal(err)
	}
	if res.Servers[2].Recovered != machine.Switching {
		t.Fatalf("server3 recovered %q", res.Servers[2].Recovered)
	}
	for i, h := range e.hosts {
		color := naming.Blue
		if i == 2 {
			color = naming.Green
		}
		e.serving(h, color, "r3")
	}
}
