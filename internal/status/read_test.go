package status

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
)

func fakeConnect(hosts ...*fake.Host) Connect {
	return func(ctx context.Context, name string) (drivers.Containers, drivers.Proxy, func(), error) {
		for _, h := range hosts {
			if h.Name() == name {
				return h, h, func() {}, nil
			}
		}
		return nil, nil, nil, errors.New("dial tcp: connection refused")
	}
}

func blueHost(t *testing.T, name string) *fake.Host {
	ctx := context.Background()
	h := fake.NewHost(name)
	h.AddImage("blog:r1")
	h.EnsureNetwork(ctx, naming.Network("shop"), nil)
	h.Create(ctx, drivers.ContainerSpec{Name: "blog-blue", Image: "blog:r1", Network: naming.Network("shop"),
		Labels: map[string]string{naming.LabelProject: "shop", naming.LabelApp: "blog", naming.LabelColor: naming.Blue, naming.LabelRelease: "r1"}})
	if err := h.Start(ctx, "blog-blue"); err != nil {
		t.Fatal(err)
	}
	return h
}

// With luma-proxy down, status does not show containers as if no deploy
// state existed: it says the proxy did not answer and what to run.
func TestStatusSaysTheProxyIsDown(t *testing.T) {
	h := blueHost(t, "s1")
	for _, op := range []string{"Records", "Locks", "Routes"} {
		h.Inject(fake.Fault{Op: op})
	}
	readings := Read(context.Background(), fakeConnect(h), "shop", []string{"s1"}, 4)
	a := Of("blog", 1, []ServerInput{readings["s1"].Input("s1", "shop", "blog")}, time.Now())
	var b strings.Builder
	Text(&b, a, time.Now())
	if a.Status == Running || !strings.Contains(b.String(), "luma-proxy") || !strings.Contains(b.String(), "luma setup") {
		t.Fatalf("status %s with luma-proxy down:\n%s", a.Status, b.String())
	}
	if a.Servers[0].State == "idle" {
		t.Fatalf("state %q: unknown without the proxy", a.Servers[0].State)
	}
}

// An unreachable server is part of the report, not a failure of it; a
// service shows its container's state, or that it is not created yet.
func TestReadUnreachableAndServices(t *testing.T) {
	h := blueHost(t, "s1")
	readings := Read(context.Background(), fakeConnect(h), "shop", []string{"s1", "s2"}, 1)
	if readings["s2"].Err == nil || readings["s1"].Err != nil {
		t.Fatalf("s1 %v, s2 %v", readings["s1"].Err, readings["s2"].Err)
	}
	a := Of("blog", 1, []ServerInput{readings["s1"].Input("s1", "shop", "blog"), readings["s2"].Input("s2", "shop", "blog")}, time.Now())
	if a.Status == Running || a.Servers[1].Unreach == "" {
		t.Fatalf("app %+v", a)
	}
	svc := ServiceOf("db", "postgres:16", []string{"s1", "s2"}, readings)
	if svc.Servers[0].State != "not created: run `luma setup`" || !strings.HasPrefix(svc.Servers[1].State, "unreachable: ") {
		t.Fatalf("service %+v", svc)
	}
}

// An HTTPS app's status shows each host's certificate on each server:
// who issued it and when it expires, or why there is none yet.
func TestStatusShowsCertificates(t *testing.T) {
	h := blueHost(t, "s1")
	ctx := context.Background()
	h.SetRoute(ctx, drivers.Route{App: "shop/blog", Hosts: []string{"blog.com"}, Targets: []string{"blog-blue:3000"},
		TLS: &drivers.RouteTLS{ACME: &drivers.ACME{Directory: "https://ca.test/dir"}}})
	readings := Read(ctx, fakeConnect(h), "shop", []string{"s1"}, 4)
	a := Of("blog", 1, []ServerInput{readings["s1"].Input("s1", "shop", "blog")}, time.Now())
	var b strings.Builder
	Text(&b, a, time.Now())
	if !strings.Contains(b.String(), "[s1] https://blog.com: no certificate yet (ACME)") {
		t.Errorf("status:\n%s", b.String())
	}
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	line := certificateLine(drivers.Certificate{Host: "blog.com", Source: "acme", Issuer: "R11", NotAfter: now.Add(60 * 24 * time.Hour),
		LastError: "http-01 challenge for blog.com: 403", NextAttempt: now.Add(time.Minute)}, now)
	if want := "certificate by R11 (acme), expires 2027-02-05 (in 60 days); last attempt failed: http-01 challenge for blog.com: 403 (next 2026-12-07T00:01:00Z)"; line != want {
		t.Errorf("line %q\nwant %q", line, want)
	}
}
