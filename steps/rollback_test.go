package steps

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// Every failure before the switch rolls back: the old version serves
// throughout, the new containers are gone, the lock is released and the
// record is Idle with the reason.
func TestFailuresBeforeSwitchRollBack(t *testing.T) {
	cases := []struct {
		name     string
		replicas int
		setup    func(e *env, h *fake.Host)
		path     []machine.State
		line     string // a progress line (prefix) the user sees
		outcome  Outcome
		probes   int // -1: any
	}{
		{
			name: "create fails", replicas: 1,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "Create", Match: "shop-blog-green"}) },
			path:  states(crt, rb, idle), line: "Failed to create container shop-blog-green: injected fault",
		},
		{
			name: "start of replica 2 of 3 fails", replicas: 3,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "Start", Match: "shop-blog-green-2"}) },
			path:  states(crt, rb, idle), line: "Failed to start container shop-blog-green-2",
		},
		{
			name: "image missing and no source", replicas: 1,
			setup: func(e *env, h *fake.Host) { e.noSource = true },
			path:  states(crt, rb, idle), line: "Cleaning up failed deployment containers...",
		},
		{
			name: "never healthy", replicas: 1,
			setup: func(e *env, h *fake.Host) {
				h.Behave(fake.Behavior{Match: "blog:r2", NeverHealthy: true, FailStatus: 503})
			},
			path: states(crt, hc, rb, idle), line: "Health check failed for shop-blog-green: GET /up returned 503", probes: 3,
		},
		{
			name: "one of three never answers", replicas: 3,
			setup: func(e *env, h *fake.Host) { h.Behave(fake.Behavior{Match: "shop-blog-green-3", NeverHealthy: true}) },
			path:  states(crt, hc, rb, idle), line: "Health check timeout for shop-blog-green-3: no response from GET /up on port 3000", probes: -1,
		},
		{
			name: "crash on start", replicas: 1,
			setup: func(e *env, h *fake.Host) {
				h.Behave(fake.Behavior{Match: "blog:r2", CrashOnStart: "exited", ExitCode: 3})
			},
			// Fails at once, without a single probe or retry.
			path: states(crt, hc, rb, idle), line: "Health check failed for shop-blog-green: crashed (exited, exit code 3)", probes: 0,
		},
		{
			name: "restart loop", replicas: 1,
			setup: func(e *env, h *fake.Host) {
				h.Behave(fake.Behavior{Match: "blog:r2", CrashOnStart: "restarting", ExitCode: 1})
			},
			path: states(crt, hc, rb, idle), line: "Health check failed for shop-blog-green: crashed and restarting (exit code 1, 1 restarts)", probes: 0,
		},
		{
			name: "healthy then crashes before the switch", replicas: 3,
			setup: func(e *env, h *fake.Host) {
				h.Behave(fake.Behavior{Match: "shop-blog-green-2", CrashAfterHealthy: 1, ExitCode: 137})
			},
			path: states(crt, hc, sw, rb, idle), line: "shop-blog-green-2 crashed (exited, exit code 137) after passing its health check", probes: -1,
		},
		{
			name: "alias fails", replicas: 1,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "Connect", Match: "shop-blog-green"}) },
			path:  states(crt, hc, sw, rb, idle), line: "Cleaning up failed deployment containers...", probes: -1,
		},
		{
			name: "SetRoute fails", replicas: 2,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "SetRoute"}) },
			path:  states(crt, hc, sw, rb, idle), line: "Failed to switch traffic: injected fault", probes: -1,
		},
		{
			// The proxy applied the route but the reply was lost: the
			// rollback asks the proxy and switches back.
			name: "SetRoute applied but its reply lost", replicas: 1,
			setup: func(e *env, h *fake.Host) {
				app := e.release("r2")
				h.Inject(fake.Fault{Op: "SetRoute", Nth: 1, Do: func() {
					h.SetRoute(bg, drivers.Route{App: "shop/blog", Hosts: app.Hosts, Targets: app.targets([]string{"shop-blog-green"})})
				}})
			},
			path: states(crt, hc, sw, rb, idle), line: "Switching traffic back to blue containers...", probes: -1,
		},
		{
			name: "save fails entering creating", replicas: 1,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "Save", Match: "creating"}) },
			path:  nil, outcome: Failed,
		},
		{
			name: "save fails entering health_checking", replicas: 1,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "Save", Match: "health_checking"}) },
			path:  states(crt, rb, idle), line: "Cleaning up failed deployment containers...",
		},
		{
			name: "save fails entering switching", replicas: 1,
			setup: func(e *env, h *fake.Host) { h.Inject(fake.Fault{Op: "Save", Match: "switching"}) },
			path:  states(crt, hc, rb, idle), line: "Cleaning up failed deployment containers...", probes: -1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.replicas)
			h := e.hosts[0]
			e.mustDeploy("r1", naming.Blue)
			e.proxies[0].takePath()
			blue, logBefore, probesBefore := ids(h), len(h.RouteLog("shop/blog")), h.Calls("Probe")
			before, _ := h.Record("shop", "blog")
			c.setup(e, h)
			e.out.reset()

			res, err := e.deploy(bg, "r2")
			if err == nil {
				t.Fatalf("deploy succeeded\n%s", e.out.text())
			}
			want := c.outcome
			if want == "" {
				want = RolledBack
			}
			if got := res.Servers[0].Outcome; got != want {
				t.Fatalf("outcome %s, want %s: %v", got, want, err)
			}
			if got := e.proxies[0].takePath(); !slices.Equal(got, c.path) {
				t.Fatalf("path %v, want %v\n%s", got, c.path, e.out.text())
			}
			if c.line != "" && !e.out.has("[server1] "+c.line) {
				t.Fatalf("no line %q:\n%s", c.line, e.out.text())
			}
			if c.probes >= 0 && h.Calls("Probe")-probesBefore != c.probes {
				t.Fatalf("%d probes, want %d", h.Calls("Probe")-probesBefore, c.probes)
			}
			// The old containers kept running untouched, and the route
			// never left them for good.
			e.noSource = false
			e.serving(h, naming.Blue, "r1")
			if got := ids(h); !mapsEqual(got, blue) {
				t.Fatalf("old containers changed: %v, were %v", got, blue)
			}
			// Only a route that the proxy applied while reporting an error
			// moves, and straight back.
			var moves [][]string
			for _, ch := range h.RouteLog("shop/blog")[logBefore:] {
				moves = append(moves, ch.Targets)
			}
			var wantMoves [][]string
			if strings.Contains(c.name, "reply lost") {
				wantMoves = [][]string{{"shop-blog-green:3000"}, {"shop-blog-blue:3000"}}
			}
			if !slices.EqualFunc(moves, wantMoves, slices.Equal) {
				t.Fatalf("route changes %v, want %v", moves, wantMoves)
			}
			rec, _ := h.Record("shop", "blog")
			if c.path == nil {
				if rec.UpdatedAt != before.UpdatedAt || h.Calls("Create") != len(blue) {
					t.Fatalf("a deploy that could not start changed something: %+v", rec)
				}
				return
			}
			if rec.Outcome != "rolled_back" || rec.Error == "" || rec.Release != "r1" || rec.Active != naming.Blue {
				t.Fatalf("record %+v", rec)
			}
			if res.Servers[0].Err == nil || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("error %v / %v", err, res.Servers[0].Err)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A failed first deploy leaves nothing: no containers, no route.
func TestFailedFirstDeployLeavesNothing(t *testing.T) {
	e := newEnv(t, 2)
	h := e.hosts[0]
	app := e.release("r1")
	h.Inject(fake.Fault{Op: "SetRoute", Nth: 1, Do: func() { // applied, reply lost
		h.SetRoute(bg, drivers.Route{App: "shop/blog", Targets: app.targets([]string{"shop-blog-blue-1", "shop-blog-blue-2"})})
	}})
	res, err := e.deploy(bg, "r1")
	if err == nil || res.Servers[0].Outcome != RolledBack {
		t.Fatalf("err %v outcome %s", err, res.Servers[0].Outcome)
	}
	if cs := appContainers(h); len(cs) != 0 {
		t.Fatalf("left %v", containerNames(cs))
	}
	if _, ok := h.Route("shop/blog"); ok {
		t.Fatal("route left")
	}
	e.settled(h)
	if rec, _ := h.Record("shop", "blog"); rec.State != idle || rec.Active != "" || rec.Outcome != "rolled_back" {
		t.Fatalf("record %+v", rec)
	}
	if !e.out.has("[server1] Rolled back: nothing of blog remains") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

// Ctrl-C before the switch rolls back; after it the deploy finishes. Both
// say interrupted.
func TestInterrupt(t *testing.T) {
	cases := []struct {
		name  string
		fault func(cancel func()) fake.Fault
		path  []machine.State
		// finished: the switch had happened, the deploy completed.
		finished bool
	}{
		{"creating", func(c func()) fake.Fault { return fake.Fault{Op: "Create", Hang: true, Do: c} }, states(crt, rb, idle), false},
		{"image transfer", func(c func()) fake.Fault { return fake.Fault{Op: "LoadImage", Hang: true, Do: c} }, states(crt, rb, idle), false},
		{"health_checking", func(c func()) fake.Fault { return fake.Fault{Op: "Probe", Hang: true, Do: c} }, states(crt, hc, rb, idle), false},
		{"switching: alias", func(c func()) fake.Fault { return fake.Fault{Op: "Connect", Hang: true, Do: c} }, states(crt, hc, sw, rb, idle), false},
		{"switching: route", func(c func()) fake.Fault { return fake.Fault{Op: "SetRoute", Pass: true, Do: c} }, deployPath, true},
		{"draining", func(c func()) fake.Fault { return fake.Fault{Op: "Drain", Pass: true, Do: c} }, deployPath, true},
		{"cleaning", func(c func()) fake.Fault { return fake.Fault{Op: "Stop", Pass: true, Do: c} }, deployPath, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 2)
			h := e.hosts[0]
			e.mustDeploy("r1", naming.Blue)
			e.proxies[0].takePath()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			h.Inject(c.fault(cancel))
			res, err := e.deploy(ctx, "r2")
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("err %v, want interrupted", err)
			}
			if got := e.proxies[0].takePath(); !slices.Equal(got, c.path) {
				t.Fatalf("path %v, want %v\n%s", got, c.path, e.out.text())
			}
			if c.finished {
				if res.Servers[0].Outcome != Deployed || !strings.Contains(err.Error(), "after the switch") {
					t.Fatalf("outcome %s, err %v", res.Servers[0].Outcome, err)
				}
				e.serving(h, naming.Green, "r2")
				return
			}
			if res.Servers[0].Outcome != Interrupted {
				t.Fatalf("outcome %s", res.Servers[0].Outcome)
			}
			e.serving(h, naming.Blue, "r1")
			if rec, _ := h.Record("shop", "blog"); !strings.Contains(rec.Error, "interrupted") {
				t.Fatalf("record error %q", rec.Error)
			}
		})
	}
}

// A rollback that cannot finish leaves the record where it stopped; the
// next run finishes it.
func TestRollbackFailureIsRecoveredNextRun(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	h.Inject(fake.Fault{Op: "Start", Nth: 1}, fake.Fault{Op: "Remove", Nth: 1, Match: "shop-blog-green"})
	res, err := e.deploy(bg, "r2")
	if !errors.Is(err, ErrRollbackUnfinished) || strings.Contains(err.Error(), "rolled back:") || res.Servers[0].Outcome != Failed {
		t.Fatalf("err %v outcome %s; want ErrRollbackUnfinished, not \"rolled back\"", err, res.Servers[0].Outcome)
	}
	if rec, _ := h.Record("shop", "blog"); rec.State != rb || !strings.Contains(rec.Error, "rollback failed") {
		t.Fatalf("record %+v", rec)
	}
	e.settled(h)
	e.proxies[0].takePath()
	res = e.mustDeploy("r3", naming.Green)
	if res.Servers[0].Recovered != rb {
		t.Fatalf("recovered %q", res.Servers[0].Recovered)
	}
	if got := e.proxies[0].takePath(); !slices.Equal(got, append(states(idle), deployPath...)) {
		t.Fatalf("path %v", got)
	}
}
