package steps

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

var bg = context.Background()

const secret = "hunter2-do-not-print"

// printer collects progress lines as "[server] line".
type printer struct {
	mu    sync.Mutex
	lines []string
}

func (p *printer) Printf(server, format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, "["+server+"] "+fmt.Sprintf(format, args...))
}

func (p *printer) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

func (p *printer) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = nil
}

func (p *printer) text() string { return strings.Join(p.all(), "\n") }

// has tells whether a line starts with prefix.
func (p *printer) has(prefix string) bool {
	return slices.ContainsFunc(p.all(), func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// recorder is a server's luma-proxy that logs the path of the machine: each
// state saved that differs from the one before, and each edge taken.
type recorder struct {
	*fake.Host
	mu   sync.Mutex
	path []machine.State
}

// edgesSeen collects every edge any test made a machine take.
var edgesSeen sync.Map

func (r *recorder) Save(ctx context.Context, rec machine.Record) error {
	prev, ok := r.Host.Record(rec.Project, rec.App)
	if err := r.Host.Save(ctx, rec); err != nil {
		return err
	}
	from := prev.State
	if !ok || from == "" {
		from = machine.Idle
	}
	if from != rec.State {
		edgesSeen.Store(string(from)+" -> "+string(rec.State), true)
		r.mu.Lock()
		r.path = append(r.path, rec.State)
		r.mu.Unlock()
	}
	return nil
}

func (r *recorder) takePath() []machine.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.path
	r.path = nil
	return p
}

// TestMain fails a full run of the package when some edge of the machine
// was never taken by any test.
func TestMain(m *testing.M) {
	code := m.Run()
	if f := flag.Lookup("test.run"); code == 0 && f != nil && f.Value.String() == "" {
		for _, e := range machine.Events {
			for _, src := range e.Src {
				edge := src + " -> " + e.Dst
				if _, ok := edgesSeen.Load(edge); !ok {
					fmt.Fprintf(os.Stderr, "no test takes the edge %s (%s)\n", edge, e.Name)
					code = 1
				}
			}
		}
	}
	os.Exit(code)
}

// env is an app and its servers.
type env struct {
	t        *testing.T
	app      App
	hosts    []*fake.Host
	proxies  []*recorder
	source   *fake.Host
	noSource bool
	out      *printer
	holder   string
	opts     Options
}

func newEnv(t *testing.T, replicas int, servers ...string) *env {
	t.Helper()
	if len(servers) == 0 {
		servers = []string{"server1"}
	}
	e := &env{
		t:      t,
		source: fake.NewHost("local"),
		out:    &printer{},
		holder: "alice@laptop pid 100",
		app: App{
			Project: "shop", Name: "blog", Replicas: replicas,
			Env:   []string{"SECRET_KEY=" + secret},
			Hosts: []string{"blog.example.com"}, AppPort: 3000,
			Health:       HealthCheck{Path: "/up", Interval: 2 * time.Millisecond, Timeout: 10 * time.Millisecond, Retries: 3},
			DrainTimeout: 50 * time.Millisecond, StopTimeout: 7 * time.Second,
		},
	}
	for _, name := range servers {
		e.setHost(len(e.hosts), fake.NewHost(name))
	}
	return e
}

func (e *env) setHost(i int, h *fake.Host) {
	if i == len(e.hosts) {
		e.hosts, e.proxies = append(e.hosts, nil), append(e.proxies, nil)
	}
	e.hosts[i], e.proxies[i] = h, &recorder{Host: h}
}

func (e *env) servers() []Server {
	var out []Server
	for i, h := range e.hosts {
		s := Server{Name: h.Name(), Engine: h, Proxy: e.proxies[i], Source: e.source}
		if e.noSource {
			s.Source = nil
		}
		out = append(out, s)
	}
	return out
}

func (e *env) release(rel string) App {
	app := e.app
	app.Release, app.Image = rel, "blog:"+rel
	if ok, _ := e.source.HasImage(context.Background(), app.Image); !ok {
		e.source.AddImage(app.Image) // built once per release, like a cached build
	}
	return app
}

func (e *env) deploy(ctx context.Context, rel string) (Result, error) {
	o := e.opts
	if o.Holder == "" {
		o.Holder = e.holder
	}
	if o.Now == nil {
		o.Now = e.hosts[0].Clock().Now
	}
	res, err := Deploy(ctx, e.release(rel), e.servers(), e.out, o)
	e.checkNoSecret(err)
	return res, err
}

// mustDeploy deploys rel and expects it to serve in color.
func (e *env) mustDeploy(rel, color string) Result {
	e.t.Helper()
	res, err := e.deploy(bg, rel)
	if err != nil {
		e.t.Fatalf("deploy %s: %v\n%s", rel, err, e.out.text())
	}
	for i, h := range e.hosts {
		if res.Servers[i].Outcome != Deployed {
			e.t.Fatalf("deploy %s on %s: outcome %s", rel, h.Name(), res.Servers[i].Outcome)
		}
		e.serving(h, color, rel)
	}
	return res
}

func (e *env) checkNoSecret(err error) {
	e.t.Helper()
	if strings.Contains(e.out.text(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
		e.t.Fatal("a secret was printed")
	}
}

// appContainers lists the app's containers on h.
func appContainers(h *fake.Host) []drivers.Container {
	var out []drivers.Container
	for _, c := range h.Containers() {
		if c.Labels[naming.LabelApp] == "blog" {
			out = append(out, c)
		}
	}
	return out
}

func containerNames(cs []drivers.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// serving asserts the end state of a server at rest: exactly the replicas
// of color run release, labelled, aliased and routed; no lock; the record
// is Idle with color active; nothing forbidden happened on the way.
func (e *env) serving(h *fake.Host, color, rel string) {
	e.t.Helper()
	t := e.t
	app := e.release(rel)
	want := app.ContainerNames(color)
	cs := appContainers(h)
	if got := containerNames(cs); !slices.Equal(got, want) {
		t.Fatalf("[%s] containers %v, want %v", h.Name(), got, want)
	}
	for i, c := range cs {
		labels := map[string]string{
			naming.LabelProject: "shop", naming.LabelApp: "blog", naming.LabelColor: color,
			naming.LabelReplica: strconv.Itoa(i + 1), naming.LabelRelease: rel,
		}
		if !maps.Equal(c.Labels, labels) {
			t.Errorf("[%s] %s labels %v, want %v", h.Name(), c.Name, c.Labels, labels)
		}
		if !c.Running() || c.Image != "blog:"+rel {
			t.Errorf("[%s] %s: state %s image %s", h.Name(), c.Name, c.State, c.Image)
		}
		if !maps.EqualFunc(c.Networks, map[string][]string{"shop-network": {"blog"}}, slices.Equal) {
			t.Errorf("[%s] %s networks %v, want the blog alias on shop-network", h.Name(), c.Name, c.Networks)
		}
		spec, _, _ := h.Spec(c.Name)
		for _, kv := range []string{"LUMA_APP=blog", "LUMA_COLOR=" + color, "LUMA_RELEASE=" + rel, "SECRET_KEY=" + secret} {
			if !slices.Contains(spec.Env, kv) {
				t.Errorf("[%s] %s env lacks %s", h.Name(), c.Name, strings.SplitN(kv, "=", 2)[0])
			}
		}
		if spec.StopSignal != "SIGTERM" || spec.StopTimeout != 7*time.Second || spec.Restart != "unless-stopped" || len(spec.Aliases) != 0 {
			t.Errorf("[%s] %s spec: signal %q timeout %s restart %q aliases %v", h.Name(), c.Name, spec.StopSignal, spec.StopTimeout, spec.Restart, spec.Aliases)
		}
	}
	if len(e.app.Hosts) > 0 {
		r, ok := h.Route("shop/blog")
		if !ok || !slices.Equal(r.Targets, app.targets(want)) || !slices.Equal(r.Hosts, e.app.Hosts) || r.HealthPath != "/up" {
			t.Errorf("[%s] route %+v, want targets %v", h.Name(), r, app.targets(want))
		}
		if len(r.Draining) != 0 {
			t.Errorf("[%s] still draining %v", h.Name(), r.Draining)
		}
	}
	e.settled(h)
	rec, _ := h.Record("shop", "blog")
	if rec.State != machine.Idle || rec.Active != color {
		t.Errorf("[%s] record: state %s active %s, want idle, %s", h.Name(), rec.State, rec.Active, color)
	}
	if rec.Outcome == string(Deployed) && (rec.Release != rel || rec.Error != "") {
		t.Errorf("[%s] deployed record: release %s error %q", h.Name(), rec.Release, rec.Error)
	}
}

// settled asserts no lock is held and no rule was broken.
func (e *env) settled(h *fake.Host) {
	e.t.Helper()
	if l, ok := h.Lease("shop/blog"); ok {
		e.t.Errorf("[%s] lock left: %+v", h.Name(), l)
	}
	if v := h.Violations(); len(v) > 0 {
		e.t.Errorf("[%s] violations:\n%s", h.Name(), strings.Join(v, "\n"))
	}
}

// ids maps the app's container names on h to their IDs, to tell a
// container that kept running from one made again.
func ids(h *fake.Host) map[string]string {
	out := map[string]string{}
	for _, c := range appContainers(h) {
		out[c.Name] = c.ID
	}
	return out
}

func states(s ...machine.State) []machine.State { return s }

const (
	idle = machine.Idle
	crt  = machine.Creating
	hc   = machine.HealthChecking
	sw   = machine.Switching
	dr   = machine.Draining
	cl   = machine.Cleaning
	rb   = machine.RollingBack
)

// deployPath is the path of a deploy that succeeds.
var deployPath = states(crt, hc, sw, dr, cl, idle)
