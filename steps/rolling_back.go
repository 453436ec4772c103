package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// rollBack takes the machine from a pre-switch state (or a rollback in
// progress) through RollingBack to Idle, restoring the old set: the route
// back if it moved, then the new containers stopped and removed. The old
// version serves throughout. The reason goes on record.
func (r *run) rollBack(ctx context.Context, reason error) error {
	from := r.m.State()
	if machine.CanRollBack(from) {
		if err := r.m.FireWith(ctx, machine.EvRollback, func(rec *machine.Record) { rec.Error = reason.Error() }); err != nil {
			// Restore the old version all the same; the record stays in
			// from and the next run rolls back again, which is idempotent.
			if uerr := r.undo(ctx, from); uerr != nil {
				err = errors.Join(err, uerr)
			}
			r.say("Could not record the rollback: %v", err)
			return fmt.Errorf("record rollback: %w", err)
		}
	}
	if err := r.undo(ctx, from); err != nil {
		r.m.Update(ctx, func(rec *machine.Record) { rec.Error = fmt.Sprintf("%v; rollback failed: %v", reason, err) })
		r.say("Rollback failed: %v; the next deploy finishes it", err)
		return fmt.Errorf("roll back: %w", err)
	}
	err := r.m.FireWith(ctx, machine.EvRolledBack, func(rec *machine.Record) {
		rec.Outcome, rec.Error = string(RolledBack), reason.Error()
		rec.Release, rec.Active = rec.Previous, rec.FromColor
	})
	if err != nil {
		r.say("Could not record the end of the rollback: %v", err)
		return fmt.Errorf("record rollback: %w", err)
	}
	rec := r.m.Record()
	if rec.FromColor != "" {
		r.say("Rolled back: %s containers still serve", rec.FromColor)
	} else {
		r.say("Rolled back: nothing of %s remains", r.app.Name)
	}
	return nil
}

// undo is the work of RollingBack.
func (r *run) undo(ctx context.Context, from machine.State) error {
	rec := r.m.Record()
	if err := r.restoreRoute(ctx, rec); err != nil {
		return err
	}
	r.say("Cleaning up failed deployment containers...")
	// New containers that had the alias or the route may hold requests:
	// stop them gracefully. Before that, nothing reached them.
	graceful := from == machine.Switching || from == machine.RollingBack
	return parallel(ctx, rec.New, false, func(ctx context.Context, name string) error {
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
			old = r.app.route(cur.Hosts, rec.Old)
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
