package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/luma-deploy/luma/machine"
)

// drain is the work of Draining: wait until the old targets have no
// request in flight, up to DrainTimeout.
func (r *run) drain(ctx context.Context) (func(*machine.Record), error) {
	var targets []string
	switch {
	case r.route == routeSwapped && !r.recovering:
		targets = r.oldRoute.Targets
	case len(r.app.Hosts) > 0: // recovery (a dead run swapped first): the old set's targets
		targets = r.app.targets(r.m.Record().Old)
	}
	if len(targets) == 0 {
		return nil, nil
	}
	remaining, err := r.srv.Proxy.Drain(ctx, r.app.Key(), targets, r.app.DrainTimeout)
	if err != nil {
		return nil, fmt.Errorf("drain old containers: %w", err)
	}
	if remaining > 0 {
		r.say("%d request(s) still in flight on the old containers after %s; stopping them anyway",
			remaining, r.app.DrainTimeout.Round(time.Millisecond))
	}
	return nil, nil
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
