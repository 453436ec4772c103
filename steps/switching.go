package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// prepareSwitch is the first part of Switching, once every server passed
// its health checks: enter Switching, confirm the new containers still run,
// and give them the app's alias (Disconnect then Connect: aliases cannot be
// edited in place; nothing routes to them yet). Old containers keep theirs
// until they stop.
func (r *run) prepareSwitch(ctx context.Context) error {
	if err := r.m.Fire(ctx, machine.EvHealthy); err != nil {
		return err
	}
	rec := r.m.Record()
	r.say("Switching traffic to %s containers...", rec.ToColor)
	net := r.app.Network()
	return parallel(ctx, rec.New, true, func(ctx context.Context, name string) error {
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

// swap is the switch itself: the proxy serves the new set, atomically.
// It runs on every server after every server prepared; Deploy swaps back
// the servers that moved if any one fails.
func (r *run) swap(ctx context.Context) error {
	if len(r.app.Hosts) == 0 {
		return nil
	}
	rec := r.m.Record()
	old, err := r.srv.Proxy.SetRoute(ctx, r.app.route(r.app.Hosts, rec.New))
	if err != nil {
		r.route = routeUnknown // it may have been applied before the error
		r.say("Failed to switch traffic: %v", err)
		return fmt.Errorf("switch route: %w", err)
	}
	r.route, r.oldRoute = routeSwapped, old
	return nil
}

// commit records the switch (Switching → Draining). If the record cannot
// be saved the server stays as it is, serving the new set with the old
// containers kept; the next run rolls it back and deploys again.
func (r *run) commit(ctx context.Context) error {
	err := r.m.FireWith(ctx, machine.EvSwitched, func(rec *machine.Record) { rec.Active = rec.ToColor })
	if err != nil {
		r.outcome = Failed
		r.say("Traffic is on %s but the switch could not be recorded: %v", r.m.Record().ToColor, err)
		return fmt.Errorf("%w: traffic is on %s but the switch could not be recorded (%w); the next deploy rolls this server back and deploys again",
			ErrAfterSwitch, r.m.Record().ToColor, err)
	}
	return nil
}

// route is what luma-proxy serves for the app: hosts to the containers
// named, with the app's proxy settings.
func (a App) route(hosts, containers []string) drivers.Route {
	return drivers.Route{
		App: a.Key(), Hosts: hosts, Targets: a.targets(containers), HealthPath: a.Health.Path,
		MaxBodySize: a.MaxBodySize, UpstreamIdleTimeout: a.IdleTimeout,
	}
}
