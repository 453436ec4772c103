package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// undo is the work of RollingBack: restore the old set (the route back if
// it moved, then the new containers stopped and removed). The old version
// serves throughout. rolled_back saves the outcome and the reason.
func (r *run) undo(ctx context.Context) (func(*machine.Record), error) {
	rec := r.m.Record()
	if err := r.restoreRoute(ctx, rec); err != nil {
		return nil, err
	}
	r.say("Cleaning up failed deployment containers...")
	// New containers that had the alias or the route may hold requests:
	// stop them gracefully. Before that, nothing reached them.
	graceful := r.rollbackFrom == machine.Switching || r.rollbackFrom == machine.RollingBack
	err := parallel(ctx, rec.New, false, func(ctx context.Context, name string) error {
		if c, err := r.srv.Engine.Inspect(ctx, name); err == nil && !r.ours(c) {
			r.say("Leaving %s in place: it was not made by luma for %s", name, r.app.Key())
			return nil
		}
		if graceful {
			return r.stopAndRemove(ctx, name)
		}
		if err := r.srv.Engine.Remove(ctx, name); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	reason := r.reason
	return func(rec *machine.Record) {
		rec.Outcome, rec.Error = string(RolledBack), reason.Error()
		rec.Release, rec.Active = rec.Previous, rec.FromColor
	}, nil
}

// rollbackFailed records that the rollback stopped; the next run rolls back
// again, which is idempotent.
func (r *run) rollbackFailed(ctx context.Context, err error) error {
	r.m.Update(ctx, func(rec *machine.Record) { rec.Error = fmt.Sprintf("%v; rollback failed: %v", r.reason, err) })
	r.say("Rollback failed: %v; the next deploy finishes it", err)
	return fmt.Errorf("roll back: %w", err)
}

// restoreRoute points the app's route at the old set again if it had
// moved, then drains the new set.
func (r *run) restoreRoute(ctx context.Context, rec machine.Record) error {
	var old drivers.Route
	var newTargets []string
	switch r.route {
	case routeUntouched:
		return nil
	case routeSwapped:
		old, newTargets = r.oldRoute, r.app.targets(rec.New)
	case routeUnknown:
		routes, err := r.srv.Proxy.Routes(ctx)
		if err != nil {
			return fmt.Errorf("read routes: %w", err)
		}
		i := slices.IndexFunc(routes, func(rt drivers.Route) bool { return rt.App == r.app.Key() })
		if i < 0 || !routesTo(routes[i].Targets, rec.New) {
			r.route = routeUntouched
			return nil
		}
		cur := routes[i]
		newTargets = cur.Targets
		if len(rec.Old) > 0 {
			old = r.app.route(r.srv.Name, cur.Hosts, rec.Old)
			old.TLS = cur.TLS
		}
	}
	if len(old.Targets) == 0 {
		r.say("Removing the route: there was no version before")
		if err := r.srv.Proxy.RemoveRoute(ctx, r.app.Key()); err != nil {
			return fmt.Errorf("remove route: %w", err)
		}
	} else {
		r.say("Switching traffic back to %s containers...", colorOf(rec.FromColor, old.Targets))
		old.Draining = nil
		if _, err := r.srv.Proxy.SetRoute(ctx, old); err != nil {
			return fmt.Errorf("switch route back: %w", err)
		}
	}
	r.route = routeUntouched
	if _, err := r.srv.Proxy.Drain(ctx, r.app.Key(), newTargets, r.app.DrainTimeout); err != nil {
		return fmt.Errorf("drain new containers: %w", err)
	}
	return nil
}

func colorOf(color string, targets []string) string {
	if color != "" {
		return color
	}
	return "the old " + strings.Join(targets, ", ")
}
