package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// alias is the first step of Switching, entered once every server passed
// its health checks: confirm the new containers still run and give them
// the app's alias (Disconnect then Connect: aliases cannot be edited in
// place; nothing routes to them yet). Old containers keep theirs until they
// stop.
func (r *run) alias(ctx context.Context) (func(*machine.Record), error) {
	rec := r.m.Record()
	r.say("Switching traffic to %s containers...", rec.ToColor)
	net := r.app.Network()
	return nil, parallel(ctx, rec.New, true, func(ctx context.Context, name string) error {
		c, err := r.srv.Engine.Inspect(ctx, name)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", name, err)
		}
		if p := crashed(c); p != "" {
			r.say("%s %s after passing its health check", name, p)
			return fmt.Errorf("%s %s after passing its health check", name, p)
		}
		if err := r.srv.Engine.Disconnect(ctx, net, name); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			return fmt.Errorf("alias %s: disconnect %s: %w", r.app.Name, name, err)
		}
		if err := r.srv.Engine.Connect(ctx, net, name, []string{r.app.Name}); err != nil {
			return fmt.Errorf("alias %s: connect %s: %w", r.app.Name, name, err)
		}
		return nil
	})
}

// swap is the switch itself, once every server gave the alias: the proxy
// serves the new set, atomically. Once started it is not cancelled: the
// run must know whether the route moved. switched (fired once every server
// swapped, or every server rolls back and the swapped ones swap back)
// saves the new color as active.
func (r *run) swap(ctx context.Context) (func(*machine.Record), error) {
	active := func(rec *machine.Record) { rec.Active = rec.ToColor }
	if len(r.app.Hosts) == 0 {
		return active, nil
	}
	rec := r.m.Record()
	if c := r.app.Certificate; c != nil {
		if err := r.srv.Proxy.SetCertificate(ctx, r.app.Key(), *c); err != nil {
			r.say("Failed to give luma-proxy the certificate: %v", err)
			return nil, fmt.Errorf("certificate: %w", err)
		}
	}
	old, err := r.srv.Proxy.SetRoute(context.WithoutCancel(ctx), r.app.route(r.srv.Name, r.app.Hosts, rec.New))
	if err != nil {
		r.route = routeUnknown // it may have been applied before the error
		r.say("Failed to switch traffic: %v", err)
		return nil, fmt.Errorf("switch route: %w", err)
	}
	r.route, r.oldRoute = routeSwapped, old
	return active, nil
}

// route is what luma-proxy on server serves for the app: hosts to the
// containers named, with the app's proxy settings; over HTTPS, the app's
// other servers' proxies are its peers.
func (a App) route(server string, hosts, containers []string) drivers.Route {
	r := drivers.Route{
		App: a.Key(), Hosts: hosts, Targets: a.targets(containers), HealthPath: a.Health.Path,
		MaxBodySize: a.MaxBodySize, UpstreamIdleTimeout: a.IdleTimeout,
	}
	if a.TLS != nil {
		t := *a.TLS
		t.Peers = nil
		for name, addr := range a.ProxyAddrs {
			if name != server {
				t.Peers = append(t.Peers, addr)
			}
		}
		slices.Sort(t.Peers)
		r.TLS = &t
	}
	return r
}
