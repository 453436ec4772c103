package steps

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

func TestDeployAlternatesColors(t *testing.T) {
	for _, replicas := range []int{1, 3} {
		t.Run(strings.Repeat("r", replicas), func(t *testing.T) {
			e := newEnv(t, replicas)
			h, p := e.hosts[0], e.proxies[0]
			e.mustDeploy("r1", naming.Blue)
			if got := p.takePath(); !slices.Equal(got, deployPath) {
				t.Fatalf("path %v", got)
			}
			blue := ids(h)
			e.mustDeploy("r2", naming.Green)
			if got := p.takePath(); !slices.Equal(got, deployPath) {
				t.Fatalf("path %v", got)
			}
			// The old version served until the one switch, then the new one.
			log := h.RouteLog("shop/blog")
			app := e.release("r2")
			if len(log) != 2 || !slices.Equal(log[0].Targets, app.targets(slices.Sorted(mapsKeys(blue)))) ||
				!slices.Equal(log[1].Targets, app.targets(app.ContainerNames(naming.Green))) {
				t.Fatalf("route log %+v", log)
			}
			rec, _ := h.Record("shop", "blog")
			if rec.Previous != "r1" || rec.FromColor != naming.Blue || rec.ToColor != naming.Green || rec.Outcome != "deployed" {
				t.Fatalf("record %+v", rec)
			}
			res := e.mustDeploy("r3", naming.Blue)
			for _, st := range []machine.State{crt, hc, sw, dr, cl} {
				if _, ok := res.Servers[0].Timings[st]; !ok {
					t.Errorf("no timing for %s: %v", st, res.Servers[0].Timings)
				}
			}
			if res.Servers[0].Record.State != idle || res.Servers[0].Err != nil || res.Servers[0].Recovered != "" {
				t.Fatalf("result %+v", res.Servers[0])
			}
		})
	}
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// The progress lines are the spec's.
func TestDeployLines(t *testing.T) {
	e := newEnv(t, 2)
	e.mustDeploy("r1", naming.Blue)
	first := e.out.all()
	for _, l := range []string{
		"[server1] Deploying blog (2 replicas)...",
		"[server1] No active version, deploying: blue",
		"[server1] Deploying 2 replica(s): shop-blog-blue-1, shop-blog-blue-2",
	} {
		if !slices.Contains(first, l) {
			t.Errorf("first deploy lacks %q:\n%s", l, e.out.text())
		}
	}
	e.out.reset()
	sendImage(t, e.source, e.hosts[0], "blog:r2") // already there: not sent again
	e.mustDeploy("r2", naming.Green)
	want := []string{
		"[server1] Deploying blog (2 replicas)...",
		"[server1] Current active: blue, deploying: green",
		"[server1] Deploying 2 replica(s): shop-blog-green-1, shop-blog-green-2",
		"[server1] Creating container shop-blog-green-1...",
		"[server1] Creating container shop-blog-green-2...",
		"[server1] Performing health checks on 2 containers...",
		"[server1] Health check passed for shop-blog-green-1",
		"[server1] Health check passed for shop-blog-green-2",
		"[server1] All 2 containers passed health checks ✓",
		"[server1] Switching traffic to green containers...",
		"[server1] Gracefully shutting down 2 old containers...",
		"[server1] Blue-green deployment completed successfully ✅",
	}
	got := e.out.all()
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Lines of one server come in the order of the states.
	order := []string{"Deploying blog", "Current active", "Deploying 2 replica", "Performing health", "All 2", "Switching", "Gracefully", "Blue-green"}
	last := -1
	for _, prefix := range order {
		i := slices.IndexFunc(got, func(l string) bool { return strings.HasPrefix(l, "[server1] "+prefix) })
		if i < last {
			t.Fatalf("%q out of order:\n%s", prefix, strings.Join(got, "\n"))
		}
		last = i
	}
	if n := e.source.Calls("SaveImageFor"); n != 1 { // r1 only
		t.Fatalf("image sent %d times; r2 was on the server already", n)
	}
}

// The old containers are stopped with the app's stop timeout only after
// draining; the new ones got their alias before the route moved to them.
func TestOldStoppedAfterDrainAndNewAliasedBeforeSwitch(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	var atSwitch drivers.Container
	h.Inject(fake.Fault{Op: "SetRoute", Nth: 1, Pass: true, Do: func() {
		atSwitch, _ = h.Inspect(bg, "shop-blog-green")
	}})
	h.SetInFlight("shop-blog-blue:3000", 2)
	var stopTimeout time.Duration
	h.Inject(fake.Fault{Op: "Remove", Match: "shop-blog-blue", Pass: true, Do: func() {
		_, stopTimeout, _ = h.Spec("shop-blog-blue")
	}})
	e.mustDeploy("r2", naming.Green)
	if !slices.Equal(atSwitch.Networks["shop-network"], []string{"blog"}) {
		t.Fatalf("new container at the switch: networks %v", atSwitch.Networks)
	}
	if stopTimeout != 7*time.Second {
		t.Fatalf("old container stopped with %s", stopTimeout)
	}
	if !e.out.has("[server1] 2 request(s) still in flight on the old containers") {
		t.Fatalf("remaining requests not reported:\n%s", e.out.text())
	}
}

func TestImageTransfer(t *testing.T) {
	e := newEnv(t, 1)
	e.mustDeploy("r1", naming.Blue)
	if e.source.Calls("SaveImageFor") != 1 || e.hosts[0].Calls("LoadImage") != 1 || !e.out.has("[server1] Sending image blog:r1") {
		t.Fatalf("image not sent: save %d load %d", e.source.Calls("SaveImageFor"), e.hosts[0].Calls("LoadImage"))
	}
	if ok, _ := e.hosts[0].HasImage(bg, "blog:r1"); !ok {
		t.Fatal("image not loaded")
	}
}

// Without hosts there is no route, but containers are still checked and
// get the alias.
func TestNoHosts(t *testing.T) {
	e := newEnv(t, 2)
	e.app.Hosts = nil
	e.mustDeploy("r1", naming.Blue)
	e.mustDeploy("r2", naming.Green)
	h := e.hosts[0]
	if h.Calls("SetRoute") != 0 || h.Calls("Drain") != 0 {
		t.Fatalf("routes touched: SetRoute %d Drain %d", h.Calls("SetRoute"), h.Calls("Drain"))
	}
	if h.Calls("Probe") == 0 {
		t.Fatal("no health probe")
	}
	// Without a port: running is healthy; no probe.
	e2 := newEnv(t, 1)
	e2.app.Hosts, e2.app.AppPort = nil, 0
	e2.mustDeploy("r1", naming.Blue)
	if e2.hosts[0].Calls("Probe") != 0 {
		t.Fatal("probed an app without a port")
	}
}

func TestHealthPolicy(t *testing.T) {
	cases := []struct {
		name   string
		health HealthCheck
		slow   int // probes that fail first
		ok     bool
	}{
		{"failures under retries pass", HealthCheck{Path: "/up", Timeout: 10 * time.Millisecond, Interval: time.Millisecond, Retries: 3}, 2, true},
		{"retries exhausted fail", HealthCheck{Path: "/up", Timeout: 10 * time.Millisecond, Interval: time.Millisecond, Retries: 3}, 3, false},
		{"start period failures do not count", HealthCheck{Path: "/up", Timeout: 10 * time.Millisecond, Interval: time.Millisecond, Retries: 1, StartPeriod: time.Minute}, 5, true},
		{"without start period they do", HealthCheck{Path: "/up", Timeout: 10 * time.Millisecond, Interval: time.Millisecond, Retries: 1}, 5, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 1)
			e.app.Health = c.health
			e.hosts[0].Behave(fake.Behavior{Match: "blog:r1", HealthyAfter: c.slow, FailStatus: 503})
			_, err := e.deploy(bg, "r1")
			if (err == nil) != c.ok {
				t.Fatalf("err %v, want ok=%v\n%s", err, c.ok, e.out.text())
			}
			probes := e.hosts[0].Calls("Probe")
			if c.ok && probes != c.slow+1 {
				t.Fatalf("%d probes, want %d", probes, c.slow+1)
			}
			if !c.ok && probes != c.health.Retries {
				t.Fatalf("%d probes before failing, want %d", probes, c.health.Retries)
			}
		})
	}
}

// Containers of the app from before blue-green count as the old set: they
// serve until the switch and are removed after it.
func TestLegacyContainersRemovedAfterFirstSwitch(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	h.AddImage("blog:old")
	h.EnsureNetwork(bg, "shop-network", nil)
	h.Create(bg, drivers.ContainerSpec{Name: "blog", Image: "blog:old", Network: "shop-network", Aliases: []string{"blog"},
		Labels: map[string]string{naming.LabelApp: "blog", naming.LabelProject: "shop"}})
	h.Start(bg, "blog")
	// Another project's blog is not ours.
	h.Create(bg, drivers.ContainerSpec{Name: "other-blog", Image: "blog:old", Labels: map[string]string{naming.LabelApp: "blog", naming.LabelProject: "other"}})
	h.Start(bg, "other-blog")
	h.SetRoute(bg, drivers.Route{App: "shop/blog", Hosts: e.app.Hosts, Targets: []string{"blog:3000"}})

	res, err := e.deploy(bg, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := h.Spec("blog"); ok {
		t.Fatal("legacy container left")
	}
	if c, err := h.Inspect(bg, "other-blog"); err != nil || !c.Running() {
		t.Fatal("another project's container was touched")
	}
	log := h.RouteLog("shop/blog")
	if len(log) != 2 || !slices.Equal(log[0].Targets, []string{"blog:3000"}) || !slices.Equal(log[1].Targets, []string{"shop-blog-blue:3000"}) {
		t.Fatalf("route log %+v", log)
	}
	if rec := res.Servers[0].Record; !slices.Equal(rec.Old, []string{"blog"}) || rec.FromColor != "" {
		t.Fatalf("record %+v", rec)
	}
	if !e.out.has("[server1] Found 1 container from before blue-green deploys (blog)") {
		t.Fatalf("legacy not reported:\n%s", e.out.text())
	}
	h.Remove(bg, "other-blog")
	e.serving(h, naming.Blue, "r1")
}

// Containers of the target color that a dead run left are removed before
// the new ones are created.
func TestLeftoversOfTargetColorRemoved(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	for _, n := range []string{"shop-blog-green", "shop-blog-green-7"} {
		h.Create(bg, drivers.ContainerSpec{Name: n, Image: "blog:r1", Network: "shop-network",
			Labels: map[string]string{naming.LabelProject: "shop", naming.LabelApp: "blog", naming.LabelColor: naming.Green}})
	}
	e.mustDeploy("r2", naming.Green)
	if !e.out.has("[server1] Removing 2 containers left by an earlier deploy: shop-blog-green, shop-blog-green-7") {
		t.Fatalf("leftovers not reported:\n%s", e.out.text())
	}
}

// Without a record, the active color comes from the running containers, and
// when both colors run, from the route.
func TestActiveColorWithoutRecord(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	e.mustDeploy("r2", naming.Green)
	// The store lost its record; a stray blue container runs too.
	lost := fake.NewHost("server1")
	for _, c := range h.Containers() {
		lost.AddImage(c.Image)
	}
	lost.AddImage("blog:r1")
	lost.EnsureNetwork(bg, "shop-network", nil)
	for _, n := range []struct{ name, color, image string }{{"shop-blog-green", naming.Green, "blog:r2"}, {"shop-blog-blue", naming.Blue, "blog:r1"}} {
		lost.Create(bg, drivers.ContainerSpec{Name: n.name, Image: n.image, Network: "shop-network",
			Labels: map[string]string{naming.LabelProject: "shop", naming.LabelApp: "blog", naming.LabelColor: n.color, naming.LabelReplica: "1", naming.LabelRelease: "r2"}})
		lost.Start(bg, n.name)
	}
	lost.SetRoute(bg, drivers.Route{App: "shop/blog", Hosts: e.app.Hosts, Targets: []string{"shop-blog-green:3000"}})
	e.setHost(0, lost)
	e.out.reset()
	e.mustDeploy("r3", naming.Blue) // green served: blue is the stray, replaced
	if !e.out.has("[server1] Current active: green, deploying: blue") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

func TestInvalidInput(t *testing.T) {
	e := newEnv(t, 1)
	bad := []func(a *App, s *[]Server){
		func(a *App, s *[]Server) { a.Name = "" },
		func(a *App, s *[]Server) { a.Image = "" },
		func(a *App, s *[]Server) { a.AppPort = 0 },
		func(a *App, s *[]Server) { *s = nil },
		func(a *App, s *[]Server) { *s = append(*s, (*s)[0]) },
	}
	for i, change := range bad {
		a, s := e.release("r1"), e.servers()
		change(&a, &s)
		if _, err := Deploy(bg, a, s, e.out, Options{}); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	if n := e.hosts[0].Calls("Lock"); n != 0 {
		t.Fatalf("a server was touched: %d locks", n)
	}
}

// sendImage copies ref from one fake engine to another, keeping its ID.
func sendImage(t *testing.T, from, to *fake.Host, ref string) {
	t.Helper()
	ctx := context.Background()
	from.AddImage(ref)
	tar, err := from.SaveImage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := to.LoadImage(ctx, tar); err != nil {
		t.Fatal(err)
	}
}

// A tag rebuilt on the local engine is sent again: same tag, other image.
func TestRebuiltTagIsSentAgain(t *testing.T) {
	e := newEnv(t, 1)
	e.mustDeploy("r1", naming.Blue)
	e.hosts[0].AddImage("blog:r2") // an older build of r2 on the server
	e.mustDeploy("r2", naming.Green)
	if !e.out.has("[server1] Sending image blog:r2 to the server: ") {
		t.Fatalf("stale blog:r2 on the server was kept:\n%s", e.out.text())
	}
	want, _ := e.source.ImageID(context.Background(), "blog:r2")
	if got, _ := e.hosts[0].ImageID(context.Background(), "blog:r2"); got != want {
		t.Fatalf("server has %s, local engine %s", got, want)
	}
}

// Containers of the active color removed by hand: the deploy says so and
// deploys the other color, which then serves.
func TestActiveContainersGone(t *testing.T) {
	e := newEnv(t, 1)
	e.mustDeploy("r1", naming.Blue)
	ctx := context.Background()
	e.hosts[0].RemoveRoute(ctx, "shop/blog") // as a user cleaning up by hand would
	for _, c := range e.hosts[0].Containers() {
		e.hosts[0].Remove(ctx, c.Name)
	}
	e.out.reset()
	e.mustDeploy("r2", naming.Green)
	if !slices.Contains(e.out.all(), "[server1] Active blue containers are gone, deploying: green") {
		t.Fatalf("lines:\n%s", e.out.text())
	}
}

// The app's proxy settings travel with its route to luma-proxy.
func TestRouteCarriesProxySettings(t *testing.T) {
	e := newEnv(t, 1)
	e.app.MaxBodySize, e.app.IdleTimeout = 10<<20, 1500*time.Millisecond
	e.mustDeploy("r1", "blue")
	routes, err := e.hosts[0].Routes(bg)
	if err != nil || len(routes) != 1 {
		t.Fatalf("routes: %v, %v", routes, err)
	}
	if r := routes[0]; r.MaxBodySize != 10<<20 || r.UpstreamIdleTimeout != 1500*time.Millisecond {
		t.Fatalf("route %+v lacks the app's proxy settings", r)
	}
}

// A release that changed one small layer sends that layer only, and says
// how much of the image it sends and at what rate.
func TestOnlyMissingLayersSent(t *testing.T) {
	e := newEnv(t, 1)
	base := fake.Layer{Chain: "base", Size: 99_000_000}
	e.source.AddImage("blog:r1", "blog:r2")
	e.source.SetLayers("blog:r1", base, fake.Layer{Chain: "base+app1", Size: 1_000_000})
	e.source.SetLayers("blog:r2", base, fake.Layer{Chain: "base+app2", Size: 1_000_000})
	e.mustDeploy("r1", naming.Blue)
	if !e.out.has("[server1] Sending image blog:r1 to the server: 100.0 MB of 100.0 MB (layers the server lacks)...") {
		t.Fatalf("first send not whole:\n%s", e.out.text())
	}
	e.out.reset()
	e.mustDeploy("r2", naming.Green)
	if !e.out.has("[server1] Sending image blog:r2 to the server: 1.0 MB of 100.0 MB (layers the server lacks)...") ||
		!e.out.has("[server1] Sent image blog:r2: 1.0 MB in ") {
		t.Fatalf("second send not only the changed layer:\n%s", e.out.text())
	}
	want, _ := e.source.ImageID(bg, "blog:r2")
	if got, _ := e.hosts[0].ImageID(bg, "blog:r2"); got != want {
		t.Fatalf("server has %q, want %q", got, want)
	}
}
