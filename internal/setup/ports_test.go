package setup

import (
	"context"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
)

// Projects share luma-proxy: the same ports join without a restart, new
// ones are added to what it publishes (never taken away), and a port one
// project serves HTTPS on cannot be another's HTTP port.
func TestProjectsSharePorts(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	project := func(name string, http, https int) Options {
		o := opts(h, http)
		o.Project, o.HTTPSPort = name, https
		return o
	}
	if err := Server(ctx, "s1", h, h, project("shop", 8080, 8443), &rep); err != nil {
		t.Fatal(err)
	}
	creates := h.Calls("Create")
	if err := Server(ctx, "s1", h, h, project("blog", 8080, 0), &rep); err != nil {
		t.Fatal(err)
	}
	if h.Calls("Create") != creates {
		t.Fatalf("a project on the same ports replaced luma-proxy:\n%s", rep.String())
	}
	claims, _ := h.PortClaims(ctx)
	if len(claims) != 2 || claims[0] != (drivers.PortClaim{Project: "blog", HTTP: 8080}) || claims[1] != (drivers.PortClaim{Project: "shop", HTTP: 8080, HTTPS: 8443}) {
		t.Fatalf("claims %+v", claims)
	}

	err := Server(ctx, "s1", h, h, project("wiki", 8443, 0), &rep)
	want := "project wiki asks luma-proxy for HTTP on port 8443, which luma-proxy serves HTTPS on for project shop (HTTP 8080, HTTPS 8443)"
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("conflict: %v", err)
	}
	if h.Calls("Create") != creates || h.Calls("Lock") != 0 {
		t.Fatal("a refused setup changed the server")
	}

	if err := Server(ctx, "s1", h, h, project("wiki", 9090, 9443), &rep); err != nil {
		t.Fatal(err)
	}
	c, _ := h.Inspect(ctx, "luma-proxy")
	if c.Labels["luma.http_port"] != "8080,9090" || c.Labels["luma.https_port"] != "8443,9443" {
		t.Fatalf("published %v", c.Labels)
	}
	for _, n := range []string{"shop-network", "blog-network", "wiki-network", "luma-proxy"} {
		if _, ok := c.Networks[n]; !ok {
			t.Errorf("luma-proxy is not on %s: %v", n, c.Networks)
		}
	}
}

// A luma-proxy too old to keep claims still publishes its ports: they
// belong to "another project" and are kept and checked against.
func TestPortsOfAProxyWithoutClaims(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	o := opts(h, 8080)
	o.HTTPSPort = 8443
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatal(err)
	}
	h.Inject(fake.Fault{Op: "PortClaims"})
	o = opts(h, 8443)
	o.Project = "wiki"
	err := Server(ctx, "s1", h, h, o, &rep)
	if err == nil || !strings.Contains(err.Error(), "which luma-proxy serves HTTPS on for another project (HTTPS 8443)") {
		t.Fatalf("conflict with an unknown claim: %v", err)
	}
}
