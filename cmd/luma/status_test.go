package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/status"
)

// With luma-proxy down, status does not show containers as if no deploy
// state existed: it says the proxy did not answer and what to run.
func TestStatusSaysTheProxyIsDown(t *testing.T) {
	ctx := context.Background()
	h := fake.NewHost("s1")
	h.AddImage("blog:r1")
	h.EnsureNetwork(ctx, "shop-network", nil)
	h.Create(ctx, drivers.ContainerSpec{Name: "blog-blue", Image: "blog:r1", Network: "shop-network",
		Labels: map[string]string{"luma.project": "shop", "luma.app": "blog", "luma.color": "blue", "luma.release": "r1"}})
	h.Start(ctx, "blog-blue")
	for _, op := range []string{"Records", "Locks", "Routes"} {
		h.Inject(fake.Fault{Op: op})
	}
	r := &serverReport{}
	r.containers, _ = h.List(ctx, map[string]string{"luma.project": "shop"})
	r.readProxy(ctx, h)
	in := r.input("shop", "blog")
	in.Name = "s1"
	a := status.Of("blog", 1, []status.ServerInput{in}, time.Now())
	var b strings.Builder
	status.Text(&b, a)
	if a.Status == status.Running || !strings.Contains(b.String(), "luma-proxy") || !strings.Contains(b.String(), "luma setup") {
		t.Fatalf("status %s with luma-proxy down:\n%s", a.Status, b.String())
	}
	if a.Servers[0].State == "idle" {
		t.Fatalf("state %q: unknown without the proxy", a.Servers[0].State)
	}
}
