package setup

import (
	"context"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
)

// Run sets up every server at once and keeps every server's error, named:
// one server that fails does not stop the others.
func TestRunEveryServerEveryError(t *testing.T) {
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
	hosts := []*fake.Host{fake.NewHost("s1"), fake.NewHost("s2"), fake.NewHost("s3")}
	hosts[1].Inject(fake.Fault{Op: "Platform"})
	hosts[2].Inject(fake.Fault{Op: "EnsureNetwork"})
	var targets []Target
	for _, h := range hosts {
		targets = append(targets, Target{Name: h.Name(), Engine: h, Proxy: h})
	}
	var rep lines
	err = Run(context.Background(), RunOptions{Config: cfg, Servers: targets, Exe: staticExe, Holder: "alice (setup)", Limit: 2, Out: &rep})
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
