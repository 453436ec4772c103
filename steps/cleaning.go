package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/luma-deploy/luma/drivers"
)

// clean is the work of Cleaning: stop the old set (legacy containers
// included) gracefully, all at once, then remove it.
func (r *run) clean(ctx context.Context) error {
	old := r.m.Record().Old
	if len(old) == 0 {
		return nil
	}
	r.say("Gracefully shutting down %s...", plural(len(old), "old container", "old containers"))
	err := parallel(ctx, old, false, func(ctx context.Context, name string) error {
		return r.stopAndRemove(ctx, name)
	})
	if err != nil {
		return fmt.Errorf("shut down old containers: %w", err)
	}
	return nil
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
