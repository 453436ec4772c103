package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/luma-deploy/luma/machine"
)

// drive moves one server's machine through flow until it rests in Idle
// (deployed or rolled back) or stops where it cannot go on. A record left
// in another state by a dead run is brought back to Idle first: forward
// after the switch, through the rollback edge before it.
func (d *deploy) drive(r *run) {
	defer d.meeting.leave()
	if err := r.load(d.pre); err != nil {
		d.fail(d.pre, r, machine.Idle, err)
		return
	}
	// Every record is loaded before any is recovered or planned: both
	// follow what the other servers' records say (recover.go, idle.go).
	d.meeting.meet(nil, "loaded", false)
	r.peers = d.peers(r)
	if r.state() != machine.Idle {
		r.beginRecovery()
	}
	for r.outcome == "" {
		st := r.state()
		if r.recovering && !r.forward && machine.CanRollBack(st) {
			d.rollBack(r, st, r.recoveryReason())
			continue
		}
		ctx, cancel := d.context(r, st)
		if err := d.runStage(ctx, r, st); err != nil {
			d.fail(ctx, r, st, err)
			cancel()
			continue
		}
		cancel()
		if r.state() == machine.Idle {
			d.rest(r, st)
		}
	}
}

// peers are the records the other servers' runs loaded; called once
// every run loaded its own.
func (d *deploy) peers(r *run) []machine.Record {
	var out []machine.Record
	for _, o := range d.runs {
		if o != r && o.m != nil {
			out = append(out, o.loaded)
		}
	}
	return out
}

// context is the context of a state's work: before the switch the deploy's,
// which a failure on any server or an interrupt cancels; after it, one
// nothing cancels, since the new version serves and the run must finish;
// for a rollback or a recovery, one bounded by Options.Cleanup.
func (d *deploy) context(r *run, st machine.State) (context.Context, context.CancelFunc) {
	switch {
	case r.recovering || st == machine.RollingBack:
		return r.detached(d.pre)
	case machine.Switched(st):
		return context.WithoutCancel(d.pre), func() {}
	}
	return d.pre, func() {}
}

// runStage runs the steps of st, meeting the other servers where the stage
// says so, and fires its event with the last step's change.
func (d *deploy) runStage(ctx context.Context, r *run, st machine.State) error {
	s := flow[st]
	meet := s.meet && !r.recovering
	var change func(*machine.Record)
	for i, step := range s.steps {
		// An interrupt or a lost lease stops the work before the switch
		// between steps. Another server's failure does not stop a step
		// that follows a meeting: every server that met swaps its route,
		// and every one swaps back if one failed.
		if ctx == d.pre && d.live.Err() != nil {
			return d.live.Err()
		}
		c, err := step(r, ctx)
		if err != nil {
			return err
		}
		change = c
		if meet && i < len(s.steps)-1 {
			if err := d.meeting.meet(ctx, fmt.Sprintf("%s step %d", st, i), true); err != nil {
				return err
			}
		}
	}
	if meet {
		// Every server can fire done, or all roll back. Nothing but another
		// server's failure stops this wait: a route moved must be known.
		if err := d.meeting.meet(nil, string(s.done)+" ready", true); err != nil {
			return err
		}
	}
	if s.done == machine.EvSwitched {
		ctx = context.WithoutCancel(ctx) // the routes moved: record it whatever happens
	}
	if err := d.fire(ctx, r, s.done, change); err != nil || r.outcome != "" {
		return err
	}
	if meet {
		// Before the switch a failure still fails everyone; after it,
		// a server that could not record the switch just left.
		before := !machine.Switched(r.state())
		return d.meeting.meet(ctx, string(s.done)+" fired", before)
	}
	return nil
}

// fire fires done from st with change. A switch that cannot be recorded
// stops this server on the new version (it has no way back from there; the
// next run finishes the switch, as the other servers recorded it, and
// deploys again).
func (d *deploy) fire(ctx context.Context, r *run, done string, change func(*machine.Record)) error {
	err := r.m.FireWith(ctx, done, change)
	if err == nil {
		if done == machine.EvDeploy {
			r.started = true
		}
		return nil
	}
	if done == machine.EvSwitched {
		to := r.m.Record().ToColor
		r.outcome = Failed
		r.say("Traffic is on %s but the switch could not be recorded: %v", to, err)
		r.err = fmt.Errorf("%w: traffic is on %s but the switch could not be recorded (%w); the next deploy finishes the switch here (or, if no other server recorded it, rolls it back) and deploys again",
			ErrAfterSwitch, to, err)
		return nil
	}
	if done == machine.EvRolledBack {
		r.say("Could not record the end of the rollback: %v", err)
		return fmt.Errorf("record rollback: %w", err)
	}
	return err
}

// fail handles a failure in st, whose work ran with ctx: before the switch
// the server rolls back (and every other server with it), after it the run
// stops with the error on record, and a failed rollback is left for the
// next run.
func (d *deploy) fail(ctx context.Context, r *run, st machine.State, err error) {
	switch {
	case r.recovering && r.forward && st == machine.Switching:
		// The switch could not be finished here (its new containers
		// died?): put this server back on the old set.
		r.forward, r.route = false, routeUnknown
		r.say("Could not finish the switch: %v; rolling it back", err)
		d.rollBack(r, st, err)
	case r.recovering:
		// A dead run's record could not be brought back to Idle: nothing
		// of this deploy starts anywhere.
		if st == machine.RollingBack {
			err = r.unfinished(ctx, r.rollbackFailed(ctx, err))
		} else if machine.Switched(st) {
			err = r.stopAfterSwitch(context.WithoutCancel(ctx), err)
		}
		r.outcome, r.err = Failed, err
		d.meeting.fail(fmt.Errorf("[%s] %w", r.srv.Name, err))
	case st == machine.RollingBack:
		r.outcome, r.err = Failed, r.unfinished(ctx, r.rollbackFailed(ctx, err))
	case machine.Switched(st):
		r.outcome, r.err = FailedAfterSwitch, r.stopAfterSwitch(ctx, err)
	default: // before the switch
		r.err = err
		d.meeting.fail(fmt.Errorf("[%s] %w", r.srv.Name, err))
		own := !isCancel(err) && !errors.Is(err, errElsewhere)
		reason := d.cause()
		if own {
			reason = err
		}
		if st == machine.Idle { // nothing of this deploy started here
			r.outcome, r.err = d.notStarted(own), reason
			return
		}
		if !own {
			r.say("Rolling back: %v", reason)
		}
		d.rollBack(r, st, reason)
	}
}

// rollBack takes the rollback edge from st (a pre-switch state) for
// reason; the runner then runs RollingBack's work. When even the rollback
// cannot be recorded, the old version is restored all the same and the
// record stays where it was, for the next run to roll back again.
func (d *deploy) rollBack(r *run, st machine.State, reason error) {
	r.reason, r.rollbackFrom = reason, st
	ctx, cancel := r.detached(d.pre)
	defer cancel()
	err := r.m.FireWith(ctx, machine.EvRollback, func(rec *machine.Record) { rec.Error = reason.Error() })
	if err == nil {
		return
	}
	if _, uerr := r.undo(ctx); uerr != nil {
		err = errors.Join(err, uerr)
	}
	r.say("Could not record the rollback: %v", err)
	r.outcome, r.err = Failed, r.unfinished(ctx, fmt.Errorf("record rollback: %w", err))
	if r.recovering {
		d.meeting.fail(fmt.Errorf("[%s] %w", r.srv.Name, r.err))
	}
}

// rest ends the run of a machine that came back to Idle from st.
func (d *deploy) rest(r *run, from machine.State) {
	rec := r.m.Record()
	if from == machine.RollingBack {
		if rec.FromColor != "" {
			r.say("Rolled back: %s containers still serve", rec.FromColor)
		} else {
			r.say("Rolled back: nothing of %s remains", r.app.Name)
		}
	}
	if r.recovering {
		r.recovering = false
		r.route = routeUntouched
		if from == machine.Cleaning {
			r.say("Finished the deploy of %s: %s containers serve", rec.Release, rec.ToColor)
		}
		return // now deploy
	}
	switch from {
	case machine.Cleaning:
		r.outcome = Deployed
		r.say("Blue-green deployment completed successfully ✅")
	case machine.RollingBack:
		r.outcome, r.err = RolledBack, r.reason
		if d.ctx.Err() != nil {
			r.outcome = Interrupted
		}
	}
}

// cause is why servers that did not fail themselves roll back: the
// interrupt, a lost lease, or the first failure on another server.
func (d *deploy) cause() error {
	if d.ctx.Err() != nil {
		return fmt.Errorf("%w before the switch", ErrInterrupted)
	}
	if err := context.Cause(d.live); d.live.Err() != nil && errors.Is(err, ErrLeaseLost) {
		return err
	}
	if err := d.meeting.failed(); err != nil {
		return err
	}
	return context.Cause(d.pre)
}

// notStarted is the outcome of a server where nothing of this deploy
// started.
func (d *deploy) notStarted(own bool) Outcome {
	switch {
	case own:
		return Failed
	case d.ctx.Err() != nil:
		return Interrupted
	}
	return RolledBack
}
