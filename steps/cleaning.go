package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// clean is the work of Cleaning: stop the old set (legacy containers
// included) gracefully, all at once, then remove it. cleaned saves the
// deploy as done.
func (r *run) clean(ctx context.Context) (func(*machine.Record), error) {
	done := func(rec *machine.Record) {
		rec.Active, rec.Outcome, rec.Error = rec.ToColor, string(Deployed), ""
	}
	old := r.m.Record().Old
	if len(old) == 0 {
		return done, nil
	}
	r.say("Gracefully shutting down %s...", plural(len(old), "old container", "old containers"))
	err := parallel(ctx, old, false, func(ctx context.Context, name string) error {
		return r.stopAndRemove(ctx, name)
	})
	if err != nil {
		return nil, fmt.Errorf("shut down old containers: %w", err)
	}
	return done, nil
}

// stopAndRemove stops a container with its stop timeout, then removes it;
// a container already gone is no error, so recovery can repeat it.
func (r *run) stopAndRemove(ctx context.Context, name string) error {
	if err := r.srv.Engine.Stop(ctx, name, r.app.StopTimeout); err != nil && !errors.Is(err, drivers.ErrNotFound) {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	if err := r.srv.Engine.Remove(ctx, name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}
