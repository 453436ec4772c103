package steps

import (
	"context"
	"fmt"

	"github.com/luma-deploy/luma/machine"
)

// recover brings the record of a run that stopped (died, or failed after the
// switch) back to Idle before this run deploys: before the switch it rolls
// back, after it it finishes forward. The work ignores ctx's cancellation:
// it restores a consistent server and must finish, within Options.Cleanup.
func (r *run) recover(ctx context.Context) error {
	ctx, cancel := r.detached(ctx)
	defer cancel()
	rec := r.m.Record()
	r.recovered = rec.State
	who := rec.Holder
	if who == "" {
		who = "an earlier run"
	}
	how := "stopped"
	if r.tookOver {
		how = "died (its lock lease expired)"
	}
	why := ""
	if rec.Error != "" {
		why = ": " + rec.Error
	}
	if machine.Switched(rec.State) {
		r.say("Recovering: the deploy of %s by %s %s in %s%s; traffic is on %s, finishing it first",
			rec.Release, who, how, rec.State, why, rec.ToColor)
		if err := r.finish(ctx); err != nil {
			return err
		}
		r.say("Finished the deploy of %s: %s containers serve", rec.Release, rec.ToColor)
		return nil
	}
	r.say("Recovering: the deploy of %s by %s %s in %s%s; rolling it back first", rec.Release, who, how, rec.State, why)
	if rec.State == machine.Switching || rec.State == machine.RollingBack {
		r.route = routeUnknown // it may have moved the route
	}
	err := r.rollBack(ctx, fmt.Errorf("recovered: the deploy of %s stopped in %s", rec.Release, rec.State))
	if err != nil {
		err = r.unfinished(ctx, err)
	}
	r.route = routeUntouched
	return err
}
