package setup

import (
	"context"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/proxy"
)

// Run sets up every server at once and keeps every server's error, named:
// one server that fails does not stop the others.
func TestRunEveryServerEveryError(t *testing.T) {
	cfg := threeServers(t)
	hosts := []*fake.Host{fake.NewHost("s1"), fake.NewHost("s2"), fake.NewHost("s3")}
	hosts[1].Inject(fake.Fault{Op: "Platform"})
	hosts[2].Inject(fake.Fault{Op: "EnsureNetwork"})
	var targets []Target
	for _, h := range hosts {
		targets = append(targets, Target{Name: h.Name(), Engine: h, Proxy: h})
	}
	var rep lines
	err := Run(context.Background(), RunOptions{Config: cfg, Servers: targets, Exe: staticExe, Holder: "alice (setup)", Limit: 2, Out: &rep})
	if err == nil || !strings.Contains(err.Error(), "[s2] ") || !strings.Contains(err.Error(), "[s3] ") || strings.Contains(err.Error(), "[s1]") {
		t.Fatalf("err %v", err)
	}
	if c, err := hosts[0].Inspect(context.Background(), "luma-proxy"); err != nil || !c.Running() {
		t.Fatalf("s1 luma-proxy: %+v %v\n%s", c, err, rep.String())
	}
	if !strings.Contains(rep.String(), "s1: Ready: luma-proxy serving on port 8080 ✓") {
		t.Fatalf("lines:\n%s", rep.String())
	}
}

// A refusal on one server (here a newer luma-proxy) is found before any
// server changes: the others get no luma-proxy either.
func TestRunRefusalChangesNothingAnywhere(t *testing.T) {
	cfg := threeServers(t)
	hosts := []*fake.Host{fake.NewHost("s1"), fake.NewHost("s2"), fake.NewHost("s3")}
	// s2's luma-proxy was set up by a luma with a newer proxy revision.
	newer := opts(hosts[1], 8080)
	newer.Revision = proxy.Revision + 1
	if err := Server(context.Background(), "s2", hosts[1], hosts[1], newer, &lines{}); err != nil {
		t.Fatal(err)
	}
	var targets []Target
	for _, h := range hosts {
		targets = append(targets, Target{Name: h.Name(), Engine: h, Proxy: h})
	}
	var rep lines
	err := Run(context.Background(), RunOptions{Config: cfg, Servers: targets, Exe: staticExe, Holder: "alice (setup)", Limit: 3, Out: &rep})
	if err == nil || !strings.Contains(err.Error(), "[s2] luma-proxy runs revision") || !strings.HasSuffix(err.Error(), "\nnothing was changed") {
		t.Fatalf("err %v", err)
	}
	for _, h := range []*fake.Host{hosts[0], hosts[2]} {
		if _, err := h.Inspect(context.Background(), "luma-proxy"); err == nil || h.Calls("EnsureNetwork") != 0 {
			t.Errorf("[%s] changed by a refused setup:\n%s", h.Name(), rep.String())
		}
	}
	if rep.String() != "" {
		t.Errorf("lines:\n%s", rep.String())
	}
}

// threeServers is a project with one app on servers s1, s2 and s3.
func threeServers(t *testing.T) *config.Config {
	cfg, err := config.Parse("luma.yml", []byte(`name: blog
proxy:
  http_port: 8080
apps:
  web:
    image: web:1
    servers: [s1, s2, s3]
    proxy: {hosts: [blog.test], app_port: 3000}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
