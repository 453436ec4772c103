package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/steps"
)

const registryYML = `name: shop
registry:
  server: reg.test:5000/team
  username: deploy
  password: REGISTRY_PASSWORD
apps:
  api:
    image: reg.test:5000/team/api:1.4
    servers: [server1, server2]
    health_check: {start_period: 1ms, interval: 1ms}
  nginx:
    image: nginx:1.27
    servers: [server1, server2]
    health_check: {start_period: 1ms, interval: 1ms}
  web:
    build: {context: ./web}
    servers: [server1, server2]
    health_check: {start_period: 1ms, interval: 1ms}
`

const password = "s3cret-password"

// registryWorld is a local engine, two servers, the project's private
// registry and a public Docker Hub, all fakes.
type registryWorld struct {
	cfg           *config.Config
	local, s1, s2 *fake.Host
	private, hub  *fake.Registry
	out           *printer
}

func newRegistryWorld(t *testing.T) *registryWorld {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "web", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(registryYML), 0o644)
	cfg, err := config.Load(filepath.Join(dir, "luma.yml"))
	if err != nil {
		t.Fatal(err)
	}
	w := &registryWorld{
		cfg: cfg, local: fake.NewHost("local"), s1: fake.NewHost("server1"), s2: fake.NewHost("server2"),
		private: fake.NewRegistry("reg.test:5000", "deploy", password), hub: fake.NewRegistry("docker.io", "", ""),
		out: &printer{},
	}
	w.private.Add("reg.test:5000/team/api:1.4")
	w.hub.Add("nginx:1.27")
	for _, h := range []*fake.Host{w.local, w.s1, w.s2} {
		h.UseRegistry(w.private, w.hub)
	}
	return w
}

func (w *registryWorld) options(apps ...string) Options {
	var sel []*config.App
	for i := range w.cfg.Apps {
		if slices.Contains(apps, w.cfg.Apps[i].Name) {
			sel = append(sel, &w.cfg.Apps[i])
		}
	}
	return Options{
		Config: w.cfg, Apps: sel, Release: "r1",
		Servers: map[string]Server{"server1": {Engine: w.s1, Proxy: w.s1}, "server2": {Engine: w.s2, Proxy: w.s2}},
		Source:  w.local, Out: w.out,
		Registry: &Registry{Server: w.cfg.Registry.Server,
			Auth: drivers.RegistryAuth{Server: w.cfg.Registry.Host(), Username: "deploy", Password: password}},
		Steps: steps.Options{Holder: "alice@laptop pid 1", Now: w.s1.Clock().Now},
	}
}

func (w *registryWorld) lines() string { return strings.Join(w.out.lines, "\n") }

// Images that neither the servers nor the local engine have are pulled by
// every server: the registry's with its credentials, Docker Hub's
// anonymously.
func TestPullFromRegistries(t *testing.T) {
	w := newRegistryWorld(t)
	if _, err := Run(context.Background(), w.options("api", "nginx")); err != nil {
		t.Fatalf("run: %v\n%s", err, w.lines())
	}
	for _, h := range []*fake.Host{w.s1, w.s2} {
		for ref, reg := range map[string]*fake.Registry{"reg.test:5000/team/api:1.4": w.private, "nginx:1.27": w.hub} {
			if id, _ := h.ImageID(context.Background(), ref); id == "" || id != reg.ImageID(ref) {
				t.Errorf("%s: image %s is %q, want the registry's %q", h.Name(), ref, id, reg.ImageID(ref))
			}
			if !slices.Contains(w.out.lines, "["+h.Name()+"] Pulling "+ref+" on the server...") {
				t.Errorf("no pull line for %s on %s:\n%s", ref, h.Name(), w.lines())
			}
		}
		if h.Calls("LoadImage") != 0 {
			t.Errorf("%s: an image was sent from the local engine", h.Name())
		}
		if v := h.Violations(); len(v) > 0 {
			t.Errorf("%s: %v", h.Name(), v)
		}
		for _, app := range []string{"api", "nginx"} {
			if rec, ok := h.Record("shop", app); !ok || rec.Outcome != string(steps.Deployed) {
				t.Errorf("%s: %s record %+v", h.Name(), app, rec)
			}
		}
	}
	for _, c := range w.private.Calls() {
		if c.Auth == nil || c.Auth.Password != password || c.Auth.Username != "deploy" {
			t.Errorf("private registry: %s %s with credentials %v", c.Op, c.Ref, c.Auth)
		}
	}
	for _, c := range w.hub.Calls() {
		if c.Auth != nil {
			t.Errorf("Docker Hub got the registry's credentials: %s %s", c.Op, c.Ref)
		}
	}
	if len(w.hub.Calls()) == 0 || len(w.private.Calls()) == 0 {
		t.Errorf("calls: hub %v, private %v", w.hub.Calls(), w.private.Calls())
	}
	if strings.Contains(w.lines(), password) {
		t.Errorf("the output shows the password:\n%s", w.lines())
	}
}

// A wrong password, a missing image or an unreachable registry, on any
// server, is refused before any server pulls, locks, creates or routes.
func TestRegistryRefusalChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(w *registryWorld, o *Options)
		reason error
	}{
		{"wrong password", func(w *registryWorld, o *Options) { o.Registry.Auth.Password = "wrong-password" }, drivers.ErrUnauthorized},
		{"missing image", func(w *registryWorld, o *Options) { o.Apps[0].Image = "reg.test:5000/team/api:9.9" }, drivers.ErrImageNotFound},
		{"registry down", func(w *registryWorld, o *Options) { w.private.SetDown(true) }, drivers.ErrRegistryUnreached},
		{"one server refused", func(w *registryWorld, o *Options) {
			w.s2.Inject(fake.Fault{Op: "CheckImage", Err: &drivers.RegistryError{Op: "check", Image: "reg.test:5000/team/api:1.4", Registry: "reg.test:5000", Reason: drivers.ErrUnauthorized, Err: errors.New("unauthorized")}})
		}, drivers.ErrUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRegistryWorld(t)
			opts := w.options("api")
			tc.break_(w, &opts)
			res, err := Run(context.Background(), opts)
			var build *BuildError
			if !errors.As(err, &build) || !errors.Is(err, tc.reason) || len(res) != 0 {
				t.Fatalf("err %v, results %v, want a BuildError for %v", err, res, tc.reason)
			}
			msg := err.Error()
			for _, want := range []string{opts.Apps[0].Image, "reg.test:5000", tc.reason.Error(), "nothing was changed"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			if strings.Contains(msg+w.lines(), "password") && !strings.Contains(msg, "the password secret") {
				t.Errorf("a password shows: %s\n%s", msg, w.lines())
			}
			for _, h := range []*fake.Host{w.s1, w.s2} {
				for _, op := range []string{"PullImage", "EnsureNetwork", "Create", "Lock", "Save", "SetRoute"} {
					if n := h.Calls(op); n != 0 {
						t.Errorf("%s: %d %s calls", h.Name(), n, op)
					}
				}
			}
		})
	}
}

// With a registry, a build happens once on the local engine, is pushed
// once as <server>/<project>-<app>:<release>, and every server pulls it.
func TestBuildPushPull(t *testing.T) {
	w := newRegistryWorld(t)
	if _, err := Run(context.Background(), w.options("web")); err != nil {
		t.Fatalf("run: %v\n%s", err, w.lines())
	}
	const ref = "reg.test:5000/team/shop-web:r1"
	if w.local.Calls("BuildImage") != 1 || w.local.Calls("PushImage") != 1 || w.local.Calls("SaveImageFor") != 0 {
		t.Errorf("local: %d builds, %d pushes, %d saves", w.local.Calls("BuildImage"), w.local.Calls("PushImage"), w.local.Calls("SaveImageFor"))
	}
	built, _ := w.local.ImageID(context.Background(), ref)
	if built == "" || w.private.ImageID(ref) != built {
		t.Fatalf("registry holds %q, local built %q", w.private.ImageID(ref), built)
	}
	if !slices.Contains(w.out.lines, "Pushing "+ref+"...") {
		t.Errorf("no push line:\n%s", w.lines())
	}
	// The end of the push says how much went up: the fake's image is 10 MB.
	if !slices.ContainsFunc(w.out.lines, func(l string) bool { return strings.HasPrefix(l, "Pushed "+ref+": 10.0 MB in ") }) {
		t.Errorf("no line ends the push with its bytes:\n%s", w.lines())
	}
	for _, h := range []*fake.Host{w.s1, w.s2} {
		if !slices.ContainsFunc(w.out.lines, func(l string) bool { return strings.HasPrefix(l, "["+h.Name()+"] Pulled "+ref+": ") }) {
			t.Errorf("no line ends the pull on %s:\n%s", h.Name(), w.lines())
		}
		if h.Calls("PullImage") != 1 || h.Calls("LoadImage") != 0 {
			t.Errorf("%s: %d pulls, %d loads", h.Name(), h.Calls("PullImage"), h.Calls("LoadImage"))
		}
		if cs := h.Containers(); len(cs) != 1 || cs[0].Image != ref {
			t.Errorf("%s: containers %+v, want one of %s", h.Name(), cs, ref)
		}
	}
	// A failed push changes nothing on any server.
	w = newRegistryWorld(t)
	w.private.SetDown(true)
	if _, err := Run(context.Background(), w.options("web")); !errors.Is(err, drivers.ErrRegistryUnreached) {
		t.Fatalf("push to a registry that is down: %v", err)
	}
	for _, h := range []*fake.Host{w.s1, w.s2} {
		if n := h.Calls("PullImage") + h.Calls("Create") + h.Calls("Lock"); n != 0 {
			t.Errorf("%s: %d calls after a failed push", h.Name(), n)
		}
	}
}

// Without a registry an image the local engine has is sent from there as
// before; one it lacks is pulled anonymously.
func TestLocalImageSentWithoutRegistry(t *testing.T) {
	w := newRegistryWorld(t)
	w.local.AddImage("nginx:1.27")
	opts := w.options("nginx")
	opts.Registry = nil
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("run: %v\n%s", err, w.lines())
	}
	for _, h := range []*fake.Host{w.s1, w.s2} {
		if h.Calls("PullImage") != 0 || h.Calls("LoadImage") != 1 {
			t.Errorf("%s: %d pulls, %d loads", h.Name(), h.Calls("PullImage"), h.Calls("LoadImage"))
		}
	}
	w = newRegistryWorld(t)
	opts = w.options("nginx")
	opts.Registry = nil
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("run: %v\n%s", err, w.lines())
	}
	for _, h := range []*fake.Host{w.s1, w.s2} {
		if h.Calls("PullImage") != 1 || h.Calls("LoadImage") != 0 {
			t.Errorf("%s: %d pulls, %d loads", h.Name(), h.Calls("PullImage"), h.Calls("LoadImage"))
		}
	}
}
