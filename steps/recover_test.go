package steps

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// A run that dies leaves its record in a non-idle state and its lock to
// expire. The next run takes the lock over, recovers (back before the
// switch, forward after it) and deploys.
func TestRecoverFromDeadRun(t *testing.T) {
	cases := []struct {
		name string
		// at is where the run dies: the fault's Do clones the server.
		at    fake.Fault
		dead  machine.State // record left
		color string        // what the next deploy (r3) ends on
		path  []machine.State
	}{
		{"creating", fake.Fault{Op: "Start", Nth: 1}, crt, naming.Green, append(states(rb, idle), deployPath...)},
		{"health_checking", fake.Fault{Op: "Probe", Nth: 1}, hc, naming.Green, append(states(rb, idle), deployPath...)},
		{"switching, before the route moved", fake.Fault{Op: "Connect", Nth: 1}, sw, naming.Green, append(states(rb, idle), deployPath...)},
		// Dies while saving the switch: the route serves green already.
		{"switching, after the route moved", fake.Fault{Op: "Save", Match: "draining"}, sw, naming.Green, append(states(rb, idle), deployPath...)},
		{"draining", fake.Fault{Op: "Drain", Nth: 1}, dr, naming.Blue, append(states(cl, idle), deployPath...)},
		{"cleaning", fake.Fault{Op: "Stop", Nth: 1}, cl, naming.Blue, append(states(idle), deployPath...)},
		// Dies while rolling back from a failed start.
		{"rolling_back", fake.Fault{Op: "Remove", Match: "shop-blog-green"}, rb, naming.Green, append(states(idle), deployPath...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, replicas := range []int{1, 3} {
				e := newEnv(t, replicas)
				h := e.hosts[0]
				e.mustDeploy("r1", naming.Blue)
				var dead *fake.Host
				at := c.at
				if replicas > 1 && strings.HasPrefix(at.Match, "shop-blog-") {
					at.Match += "-1"
				}
				at.Do = func() {
					if dead == nil {
						dead = h.Clone()
					}
				}
				if c.dead == rb {
					h.Inject(fake.Fault{Op: "Start", Nth: 1})
				}
				h.Inject(at)
				e.deploy(bg, "r2") // the run that "dies" at the fault
				if dead == nil {
					t.Fatal("the run never reached the fault")
				}
				rec, _ := dead.Record("shop", "blog")
				if rec.State != c.dead {
					t.Fatalf("dead run left %s, want %s", rec.State, c.dead)
				}
				lock, ok := dead.Lease("shop/blog")
				if !ok || lock.Holder != e.holder {
					t.Fatalf("dead run left no lock: %+v", lock)
				}

				// Before its lease expires the lock keeps others out.
				e.setHost(0, dead)
				e.holder = "bob@ci pid 7"
				_, err := e.deploy(bg, "r3")
				var held interface{ Error() string }
				if err == nil || !strings.Contains(err.Error(), "held by alice@laptop pid 100") {
					t.Fatalf("deploy while the dead run's lease lives: %v", err)
				}
				_ = held

				dead.Clock().Advance(31 * time.Second)
				e.out.reset()
				e.proxies[0].takePath()
				res := e.mustDeploy("r3", c.color)
				if res.Servers[0].Recovered != c.dead {
					t.Fatalf("recovered %q, want %s", res.Servers[0].Recovered, c.dead)
				}
				if got := e.proxies[0].takePath(); !slices.Equal(got, c.path) {
					t.Fatalf("path %v, want %v\n%s", got, c.path, e.out.text())
				}
				if !e.out.has("[server1] Recovering: the deploy of r2 by alice@laptop pid 100 died (its lock lease expired) in " + string(c.dead)) {
					t.Fatalf("recovery not reported:\n%s", e.out.text())
				}
				if machine.Switched(c.dead) && !e.out.has("[server1] Finished the deploy of r2: green containers serve") {
					t.Fatalf("forward recovery not reported:\n%s", e.out.text())
				}
				e.holder = "alice@laptop pid 100"
			}
		})
	}
}

// Errors after the switch stop the run: no rollback, the record keeps the
// state and the error, the lock is released, traffic stays on the new
// version; the next run finishes forward, then deploys.
func TestFailuresAfterSwitchStopAndNextRunFinishes(t *testing.T) {
	cases := []struct {
		name  string
		fault fake.Fault
		left  machine.State
		line  string
		path  []machine.State // of the next run
	}{
		{"drain fails", fake.Fault{Op: "Drain", Nth: 1}, dr, "Deploy stopped in draining: drain old containers: injected fault", append(states(cl, idle), deployPath...)},
		{"stop fails", fake.Fault{Op: "Stop", Match: "shop-blog-blue-2", Nth: 1}, cl, "Deploy stopped in cleaning: shut down old containers: stop shop-blog-blue-2", append(states(idle), deployPath...)},
		{"save fails entering cleaning", fake.Fault{Op: "Save", Match: "cleaning", Nth: 1}, dr, "Deploy stopped in draining", append(states(cl, idle), deployPath...)},
		{"save fails entering idle", fake.Fault{Op: "Save", Match: "idle", Nth: 1}, cl, "Deploy stopped in cleaning", append(states(idle), deployPath...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 2)
			h := e.hosts[0]
			e.mustDeploy("r1", naming.Blue)
			e.proxies[0].takePath()
			h.Inject(c.fault)
			res, err := e.deploy(bg, "r2")
			if !errors.Is(err, ErrAfterSwitch) || res.Servers[0].Outcome != FailedAfterSwitch {
				t.Fatalf("err %v, outcome %s", err, res.Servers[0].Outcome)
			}
			if !e.out.has("[server1] "+c.line) || !e.out.has("[server1] Traffic is on the green containers (r2); run the deploy again") {
				t.Fatalf("lines:\n%s", e.out.text())
			}
			if got := e.proxies[0].takePath(); slices.Contains(got, rb) {
				t.Fatalf("rolled back after the switch: %v", got)
			}
			rec, _ := h.Record("shop", "blog")
			if rec.State != c.left || rec.Error == "" || rec.Active != naming.Green {
				t.Fatalf("record %+v", rec)
			}
			if r, _ := h.Route("shop/blog"); !slices.Equal(r.Targets, []string{"shop-blog-green-1:3000", "shop-blog-green-2:3000"}) {
				t.Fatalf("route %v", r.Targets)
			}
			e.settled(h)

			e.out.reset()
			res = e.mustDeploy("r3", naming.Blue)
			if res.Servers[0].Recovered != c.left {
				t.Fatalf("recovered %q", res.Servers[0].Recovered)
			}
			if got := e.proxies[0].takePath(); !slices.Equal(got, c.path) {
				t.Fatalf("path %v, want %v", got, c.path)
			}
			if !e.out.has("[server1] Recovering: the deploy of r2 by alice@laptop pid 100 stopped in " + string(c.left)) {
				t.Fatalf("lines:\n%s", e.out.text())
			}
		})
	}
}

// When the switch cannot be recorded the server keeps serving the new
// version (no split between servers), and the next run rolls that record
// back and deploys again.
func TestSwitchNotRecorded(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	h.Inject(fake.Fault{Op: "Save", Match: "draining", Nth: 1})
	res, err := e.deploy(bg, "r2")
	if !errors.Is(err, ErrAfterSwitch) || res.Servers[0].Outcome != Failed {
		t.Fatalf("err %v outcome %s", err, res.Servers[0].Outcome)
	}
	if r, _ := h.Route("shop/blog"); !slices.Equal(r.Targets, []string{"shop-blog-green:3000"}) {
		t.Fatalf("route %v", r.Targets)
	}
	if got := containerNames(appContainers(h)); !slices.Equal(got, []string{"shop-blog-blue", "shop-blog-green"}) {
		t.Fatalf("containers %v", got)
	}
	e.settled(h)
	res = e.mustDeploy("r3", naming.Green)
	if res.Servers[0].Recovered != sw || !e.out.has("[server1] Switching traffic back to blue containers...") {
		t.Fatalf("recovered %q\n%s", res.Servers[0].Recovered, e.out.text())
	}
}
