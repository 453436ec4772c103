package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/luma-deploy/luma/machine"
)

// complete finishes the run after the switch and sets its outcome.
func (r *run) complete(ctx context.Context) error {
	if err := r.finish(ctx); err != nil {
		r.outcome = FailedAfterSwitch
		return err
	}
	r.outcome = Deployed
	r.say("Blue-green deployment completed successfully ✅")
	return nil
}

// finish walks forward from Draining or Cleaning to Idle. A failure stops
// the run with the record in its state and the error saved: there is no
// way back once the new set serves (see docs/states.md), and the next run
// finishes from there.
func (r *run) finish(ctx context.Context) error {
	if r.m.State() == machine.Draining {
		if err := r.drain(ctx); err != nil {
			return r.stopAfterSwitch(ctx, err)
		}
		if err := r.m.Fire(ctx, machine.EvDrained); err != nil {
			return r.stopAfterSwitch(ctx, err)
		}
	}
	if err := r.clean(ctx); err != nil {
		return r.stopAfterSwitch(ctx, err)
	}
	err := r.m.FireWith(ctx, machine.EvCleaned, func(rec *machine.Record) {
		rec.Active, rec.Outcome, rec.Error = rec.ToColor, string(Deployed), ""
	})
	if err != nil {
		return r.stopAfterSwitch(ctx, err)
	}
	return nil
}

// drain is the work of Draining: wait until the old targets have no
// request in flight, up to DrainTimeout.
func (r *run) drain(ctx context.Context) error {
	var targets []string
	switch {
	case r.route == routeSwapped:
		targets = r.oldRoute.Targets
	case len(r.app.Hosts) > 0: // recovery: the old set's targets
		targets = r.app.targets(r.m.Record().Old)
	}
	if len(targets) == 0 {
		return nil
	}
	remaining, err := r.srv.Proxy.Drain(ctx, r.app.Key(), targets, r.app.DrainTimeout)
	if err != nil {
		return fmt.Errorf("drain old containers: %w", err)
	}
	if remaining > 0 {
		r.say("%d request(s) still in flight on the old containers after %s; stopping them anyway",
			remaining, r.app.DrainTimeout.Round(time.Millisecond))
	}
	return nil
}

// stopAfterSwitch ends a run that failed after the switch: the error goes
// on record, the state stays, and the user learns that traffic is fine and
// the next deploy finishes the job.
func (r *run) stopAfterSwitch(ctx context.Context, err error) error {
	st := r.m.State()
	rec := r.m.Record()
	if uerr := r.m.Update(ctx, func(rec *machine.Record) { rec.Error = err.Error() }); uerr != nil {
		err = fmt.Errorf("%w (and the error could not be recorded: %v)", err, uerr)
	}
	r.say("Deploy stopped in %s: %v", st, err)
	r.say("Traffic is on the %s containers (%s); run the deploy again to finish cleaning up", rec.ToColor, rec.Release)
	return fmt.Errorf("%w in %s: %w", ErrAfterSwitch, st, err)
}
