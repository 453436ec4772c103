package setup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/machine"
)

// lines records progress lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (r *lines) Printf(server, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.l = append(r.l, server+": "+strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (r *lines) String() string { return strings.Join(r.l, "\n") }

var staticExe string

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "setup-test-")
	staticExe = filepath.Join(dir, "luma")
	cmd := exec.Command("go", "build", "-o", staticExe, "./testdata/tiny")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		panic(string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func opts(h *fake.Host, port int) Options {
	return Options{Project: "blog", HTTPPort: port, Exe: staticExe}
}

func TestSetupIsIdempotent(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	c, err := h.Inspect(ctx, "luma-proxy")
	if err != nil || !c.Running() || c.Labels["luma.http_port"] != "8080" {
		t.Fatalf("proxy = %+v, %v", c, err)
	}
	if _, ok := c.Networks["blog-network"]; !ok {
		t.Fatalf("proxy not on blog-network: %v", c.Networks)
	}
	spec, _, _ := h.Spec("luma-proxy")
	if strings.Join(spec.Ports, ",") != "8080:80" || spec.StopTimeout != proxyStopTimeout || spec.Restart != "unless-stopped" {
		t.Fatalf("spec = %+v", spec)
	}
	creates := h.Calls("Create")
	rep = lines{}
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	if h.Calls("Create") != creates || !strings.Contains(rep.String(), "up to date") {
		t.Fatalf("second setup changed something:\n%s", rep.String())
	}
}

func TestSetupReplacesOnPortChangeKeepingNetworks(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	other := opts(h, 8080)
	other.Project = "shop"
	if err := Server(ctx, "s1", h, h, other, &rep); err != nil {
		t.Fatal(err)
	}
	if err := Server(ctx, "s1", h, h, opts(h, 9090), &rep); err != nil {
		t.Fatal(err)
	}
	// The union: shop keeps 8080 while blog moves to 9090.
	c, _ := h.Inspect(ctx, "luma-proxy")
	if c.Labels["luma.http_port"] != "8080,9090" {
		t.Fatalf("port label = %q\n%s", c.Labels["luma.http_port"], rep.String())
	}
	if spec, _, _ := h.Spec("luma-proxy"); strings.Join(spec.Ports, " ") != "8080:80 9090:80" || spec.Network != "luma-proxy" {
		t.Fatalf("spec %+v", spec)
	}
	for _, n := range []string{"blog-network", "shop-network"} {
		if _, ok := c.Networks[n]; !ok {
			t.Fatalf("replaced proxy lost %s: %v", n, c.Networks)
		}
	}
}

func TestSetupRefusesToReplaceDuringDeploy(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Lock(ctx, "blog/web", "ann@laptop pid 7", time.Minute); err != nil {
		t.Fatal(err)
	}
	err := Server(ctx, "s1", h, h, opts(h, 9090), &rep)
	if err == nil || !strings.Contains(err.Error(), "ann@laptop pid 7") {
		t.Fatalf("err = %v, want refusal naming the holder", err)
	}
	if c, _ := h.Inspect(ctx, "luma-proxy"); c.Labels["luma.http_port"] != "8080" {
		t.Fatal("proxy was replaced during a deploy")
	}
	h.Clock().Advance(2 * time.Minute) // the holder died; its lease ran out
	if err := Server(ctx, "s1", h, h, opts(h, 9090), &rep); err != nil {
		t.Fatal(err)
	}
}

func TestSetupRefusesDynamicBinary(t *testing.T) {
	h := fake.NewHost("s1")
	o := opts(h, 8080)
	o.Exe = "/bin/ls"
	err := Server(context.Background(), "s1", h, h, o, &lines{})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("err = %v", err)
	}
	if len(h.Containers()) != 0 {
		t.Fatal("something was created")
	}
}

// An error reading the locks is no proof that no deploy runs: setup
// refuses to replace a running luma-proxy it cannot ask.
func TestSetupRefusesWhenLocksUnreadable(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	h.Inject(fake.Fault{Op: "Locks"})
	err := Server(ctx, "s1", h, h, opts(h, 9090), &rep)
	if err == nil || !strings.Contains(err.Error(), "not replacing luma-proxy") {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if c, _ := h.Inspect(ctx, "luma-proxy"); c.Labels["luma.http_port"] != "8080" {
		t.Fatal("proxy was replaced although its locks could not be read")
	}
}

// While luma-proxy is replaced, setup holds the deploy locks: a deploy
// that starts meanwhile waits instead of switching through a proxy that
// is going away. They are released once the new proxy answers.
func TestSetupHoldsLocksWhileReplacing(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	o := opts(h, 8080)
	o.Apps = []string{"web"}
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatal(err)
	}
	// Another project deployed here once: its app is locked too.
	if err := h.Save(ctx, machine.Record{Project: "shop", App: "api", State: machine.Idle}); err != nil {
		t.Fatal(err)
	}
	var during []error
	h.Inject(fake.Fault{Op: "Stop", Match: "luma-proxy", Pass: true, Do: func() {
		for _, key := range []string{"blog/web", "shop/api"} {
			_, err := h.Lock(ctx, key, "bob@ci pid 8", time.Minute)
			during = append(during, err)
		}
	}})
	o.HTTPPort = 9090
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatal(err)
	}
	for i, err := range during {
		var held *drivers.LockedError
		if !errors.As(err, &held) {
			t.Errorf("deploy lock %d taken while luma-proxy was replaced: %v", i, err)
		}
	}
	if len(during) != 2 {
		t.Fatalf("the old proxy was not stopped: %v", during)
	}
	for _, key := range []string{"blog/web", "shop/api"} {
		if l, ok := h.Lease(key); ok {
			t.Errorf("lock %s left after setup: %+v", key, l)
		}
	}
}

// A luma-proxy that is not running serves no deploy: setup replaces it
// without asking it for locks.
func TestSetupReplacesAStoppedProxy(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	if err := h.Stop(ctx, "luma-proxy", 0); err != nil {
		t.Fatal(err)
	}
	h.Inject(fake.Fault{Op: "Locks", Nth: 1}, fake.Fault{Op: "Lock", Nth: 1})
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatalf("%v\n%s", err, rep.String())
	}
	if c, _ := h.Inspect(ctx, "luma-proxy"); !c.Running() {
		t.Fatal("proxy not running")
	}
}

// Releasing the locks after a replacement is bounded: a new proxy that
// stops answering cannot hold setup forever.
func TestSetupReleaseBounded(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	o := opts(h, 8080)
	o.Apps = []string{"web"}
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { releaseTimeout = d }(releaseTimeout)
	releaseTimeout = 50 * time.Millisecond
	h.Inject(fake.Fault{Op: "Unlock", Hang: true})
	o.HTTPPort = 9090
	done := make(chan error, 1)
	go func() { done <- Server(ctx, "s1", h, h, o, &rep) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // keeps a hung setup from hanging the test
		t.Fatal("setup blocked on a hung Unlock")
	}
	if !strings.Contains(rep.String(), "Could not release the deploy lock blog/web") {
		t.Fatalf("output:\n%s", rep.String())
	}
}

// A project with HTTPS publishes https_port; another project's setup
// without HTTPS on the same server leaves it published and changes
// nothing.
func TestSetupPublishesHTTPSAndKeepsIt(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	withTLS := opts(h, 8080)
	withTLS.HTTPSPort = 8443
	if err := Server(ctx, "s1", h, h, withTLS, &rep); err != nil {
		t.Fatal(err)
	}
	spec, _, _ := h.Spec("luma-proxy")
	if c, _ := h.Inspect(ctx, "luma-proxy"); strings.Join(spec.Ports, ",") != "8080:80,8443:443" || c.Labels["luma.https_port"] != "8443" {
		t.Fatalf("ports %v, labels %v", spec.Ports, c.Labels)
	}
	creates := h.Calls("Create")
	plain := opts(h, 8080)
	plain.Project = "shop"
	rep = lines{}
	if err := Server(ctx, "s1", h, h, plain, &rep); err != nil {
		t.Fatal(err)
	}
	if h.Calls("Create") != creates || strings.Contains(rep.String(), "Replacing") {
		t.Fatalf("a project without HTTPS replaced the proxy:\n%s", rep.String())
	}
}
