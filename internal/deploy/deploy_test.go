package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/steps"
)

// printer records lines, for tests.
type printer struct {
	mu    sync.Mutex
	lines []string
}

func (p *printer) Printf(server, format string, args ...any) {
	p.Println("["+server+"] "+format, args...)
}

func (p *printer) Println(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, strings.TrimSpace(sprintf(format, args...)))
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

const yml = `name: shop
apps:
  web:
    build:
      context: ./web
    servers: [server1]
    replicas: 2
    environment:
      plain: [MODE=prod]
    proxy:
      hosts: [shop.example.com]
      app_port: 3000
      max_body_size: 10MiB
      upstream_idle_timeout: 1500ms
    health_check:
      interval: 1ms
      timeout: 10ms
    drain_timeout: 0s
  worker:
    image: worker:1.0
    servers: [server1]
    health_check:
      start_period: 1ms
      interval: 1ms
`

func load(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "web", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644)
	cfg, err := config.Load(filepath.Join(dir, "luma.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func options(t *testing.T, cfg *config.Config, local, server *fake.Host, out *printer) Options {
	t.Helper()
	envs := map[string][]string{}
	for _, a := range cfg.Apps {
		env, err := cfg.Env(a.Environment, nil)
		if err != nil {
			t.Fatal(err)
		}
		envs[a.Name] = env
	}
	apps := make([]*config.App, len(cfg.Apps))
	for i := range cfg.Apps {
		apps[i] = &cfg.Apps[i]
	}
	return Options{
		Config: cfg, Apps: apps, Env: envs, Release: "r1",
		Servers: map[string]Server{"server1": {Engine: server, Proxy: server}},
		Source:  local, Out: out,
		Steps: steps.Options{Holder: "alice@laptop pid 1", Now: server.Clock().Now},
	}
}

// Run builds the app that has a build section on the local engine, tagged
// with the release and labelled, deploys the apps in order, and reports
// each one as it is done.
func TestRunBuildsThenDeploysInOrder(t *testing.T) {
	cfg := load(t)
	local, server := fake.NewHost("local"), fake.NewHost("server1")
	local.AddImage("worker:1.0")
	out := &printer{}
	opts := options(t, cfg, local, server, out)
	var done []string
	opts.Done = func(r AppResult) { done = append(done, r.App) }
	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, strings.Join(out.lines, "\n"))
	}
	if !slices.Equal(done, []string{"web", "worker"}) || len(res) != 2 {
		t.Fatalf("done %v, results %d", done, len(res))
	}
	if local.Calls("BuildImage") != 1 || !slices.Contains(out.lines, "Building shop-web:r1 from "+filepath.Join(cfg.Dir, "web")+"...") {
		t.Fatalf("build calls %d, lines:\n%s", local.Calls("BuildImage"), strings.Join(out.lines, "\n"))
	}
	for _, app := range []string{"web", "worker"} {
		rec, ok := server.Record("shop", app)
		if !ok || rec.Outcome != string(steps.Deployed) || rec.Release != "r1" {
			t.Fatalf("%s record %+v", app, rec)
		}
	}
	c, err := server.Inspect(context.Background(), "shop-web-blue-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Image != "shop-web:r1" || c.Labels[naming.LabelRelease] != "r1" || c.Labels[naming.LabelProject] != "shop" {
		t.Fatalf("shop-web-blue-1: image %s labels %v", c.Image, c.Labels)
	}
	route, _ := server.Route("shop/web")
	if route.MaxBodySize != 10<<20 || route.UpstreamIdleTimeout != 1500*time.Millisecond {
		t.Fatalf("route %+v lacks the app's proxy settings", route)
	}
}

// An image that cannot be built stops the run before anything of that app
// (or a later one) changes on any server.
func TestBuildFailureChangesNothing(t *testing.T) {
	cfg := load(t)
	local, server := fake.NewHost("local"), fake.NewHost("server1")
	local.Inject(fake.Fault{Op: "BuildImage"})
	opts := options(t, cfg, local, server, &printer{})
	res, err := Run(context.Background(), opts)
	var build *BuildError
	if !errors.As(err, &build) || build.App != "web" || len(res) != 0 {
		t.Fatalf("err %v, results %v", err, res)
	}
	if n := server.Calls("Create") + server.Calls("Lock") + server.Calls("Save"); n != 0 {
		t.Fatalf("%d calls changed the server", n)
	}
}

// Without a local engine an app with a build section cannot deploy; one
// whose image is on the server can.
func TestNoLocalEngine(t *testing.T) {
	cfg := load(t)
	server := fake.NewHost("server1")
	server.AddImage("worker:1.0")
	opts := options(t, cfg, nil, server, &printer{})
	opts.Source = nil // no local engine (not a nil *fake.Host)
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "local Docker engine is not reachable") {
		t.Fatalf("err %v", err)
	}
	opts.Apps = opts.Apps[1:]
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("worker without a local engine: %v", err)
	}
}

// App carries every setting of the config to the state machine.
func TestAppFromConfig(t *testing.T) {
	cfg := load(t)
	a := App(cfg, &cfg.Apps[0], "shop-web:r1", "r1", []string{"MODE=prod"})
	want := steps.App{
		Project: "shop", Name: "web", Image: "shop-web:r1", Release: "r1", Replicas: 2,
		Env: []string{"MODE=prod"}, Hosts: []string{"shop.example.com"}, AppPort: 3000,
		MaxBodySize: 10 << 20, IdleTimeout: 1500 * time.Millisecond,
		Health:       steps.HealthCheck{Path: "/up", StartPeriod: cfg.Apps[0].HealthCheck.StartPeriod, Interval: time.Millisecond, Timeout: 10 * time.Millisecond, Retries: cfg.Apps[0].HealthCheck.Retries},
		DrainTimeout: 0, StopTimeout: cfg.Apps[0].StopTimeout,
	}
	if got := sprintf("%+v", a); got != sprintf("%+v", want) {
		t.Fatalf("App:\n got %s\nwant %s", got, sprintf("%+v", want))
	}
}
