package steps

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sync/errgroup"
	"slices"
	"strings"
	"time"
)

// Deploy deploys app blue-green on every server at once, one machine per
// server, with one switch for all: no server moves traffic before every
// server's new containers are healthy, and a failure anywhere before the
// switch rolls every server back. After the switch each server finishes on
// its own, even when ctx is cancelled. The error says what state the run
// left: it wraps ErrInterrupted, ErrAfterSwitch or a *drivers.LockedError
// where those apply.
func Deploy(ctx context.Context, app App, servers []Server, rep Reporter, opts Options) (Result, error) {
	if err := app.validate(servers); err != nil {
		return Result{}, err
	}
	d := &deploy{app: app, opts: opts.withDefaults()}
	if d.opts.Cleanup <= 0 {
		d.opts.Cleanup = time.Minute + app.DrainTimeout + app.StopTimeout
	}
	for _, s := range servers {
		d.runs = append(d.runs, &run{app: d.app, srv: s, rep: rep, opts: d.opts})
	}
	err := d.run(ctx)
	return d.result(), err
}

type deploy struct {
	app  App
	opts Options
	runs []*run

	ctx context.Context // the caller's: its end is an interrupt
	// live is ctx of the run, cancelled also with ErrLeaseLost when a
	// lock's lease is lost.
	live   context.Context
	cancel context.CancelCauseFunc
	// pre is the context of the work before the switch: live, cancelled
	// also by the first failure on any server.
	pre     context.Context
	meeting *meeting
}

// run locks every server, drives every server's machine through flow at
// once (runner.go), and unlocks.
func (d *deploy) run(ctx context.Context) error {
	d.ctx = ctx
	d.live, d.cancel = context.WithCancelCause(ctx)
	defer d.cancel(nil)
	started := d.opts.Now()
	for _, r := range d.runs {
		r.begun = started
	}
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock(ctx)
	defer d.audit(started)
	pre, cancelPre := context.WithCancelCause(d.live)
	defer cancelPre(nil)
	d.pre, d.meeting = pre, newMeeting(len(d.runs), cancelPre)
	// Every server at once, unbounded: they meet at barriers, so each
	// must be running for any to pass one.
	var g errgroup.Group
	for _, r := range d.runs {
		g.Go(func() error {
			d.drive(r)
			return nil // each server's outcome and error are in its run
		})
	}
	g.Wait()
	if d.meeting.failed() != nil {
		return d.aborted()
	}
	return d.summary(ctx)
}

// aborted is the error of a deploy that failed (or was interrupted) before
// the switch: every server rolled back, or says what it left.
func (d *deploy) aborted() error {
	cause := d.cause()
	started := slices.ContainsFunc(d.runs, func(r *run) bool { return r.started })
	var failed []error
	for _, r := range d.runs {
		if r.outcome == Failed && r.err != nil {
			failed = append(failed, fmt.Errorf("[%s] %w", r.srv.Name, r.err))
		}
	}
	var err error
	switch {
	case slices.ContainsFunc(d.runs, func(r *run) bool { return errors.Is(r.err, ErrRollbackUnfinished) }):
		// Not "rolled back": the new containers, or the record, are left
		// on some server (e.g. unreachable); the next run finishes the
		// rollback there.
		err = fmt.Errorf("deploy of %s %s failed and could not be rolled back everywhere (%w); run `luma deploy` again once the servers answer",
			d.app.Name, d.app.Release, cause)
	case d.ctx.Err() != nil:
		err = fmt.Errorf("%w: deploy of %s %s rolled back", ErrInterrupted, d.app.Name, d.app.Release)
	case !started:
		err = fmt.Errorf("deploy of %s %s not started: %w", d.app.Name, d.app.Release, cause)
	default:
		err = fmt.Errorf("deploy of %s %s rolled back: %w", d.app.Name, d.app.Release, cause)
	}
	return errors.Join(append([]error{err}, failed...)...)
}

// detached is ctx without its cancellation but bounded by Options.Cleanup:
// for work that must go on after an interrupt, yet not forever.
func (r *run) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), r.opts.Cleanup)
}

// unfinished is the error of a rollback that stopped, naming what it left
// on the server for the next run to roll back.
func (r *run) unfinished(ctx context.Context, err error) error {
	err = fmt.Errorf("%w: %w", ErrRollbackUnfinished, err)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w; gave up after %s", err, r.opts.Cleanup)
	}
	left := "the record in " + string(r.state())
	if names := r.record().New; len(names) > 0 {
		left += ", maybe the containers " + strings.Join(names, ", ")
	}
	if r.route != routeUntouched {
		left += ", maybe the route to them"
	}
	r.say("Rollback unfinished: left %s; the next deploy rolls back again", left)
	return fmt.Errorf("%w; left on %s: %s", err, r.srv.Name, left)
}

// isCancel tells whether err only reports that a context ended: another
// server's failure or an interrupt, not a failure of this server.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// summary is the error of a run that got past the switch.
func (d *deploy) summary(ctx context.Context) error {
	var errs []error
	for _, r := range d.runs {
		if r.outcome != Deployed && r.err != nil {
			errs = append(errs, fmt.Errorf("[%s] %w", r.srv.Name, r.err))
		}
	}
	if ctx.Err() != nil {
		errs = append([]error{fmt.Errorf("%w after the switch: the deploy of %s %s was finished", ErrInterrupted, d.app.Name, d.app.Release)}, errs...)
	}
	return errors.Join(errs...)
}

func (d *deploy) result() Result {
	var res Result
	for _, r := range d.runs {
		rec := r.record()
		res.Servers = append(res.Servers, ServerResult{
			Server: r.srv.Name, Outcome: r.outcome, Record: rec, Timings: rec.Timings,
			Recovered: r.recovered, Err: r.err,
		})
	}
	return res
}

// String is one line per server, for logs.
func (res Result) String() string {
	var b strings.Builder
	for i, s := range res.Servers {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s (%s)", s.Server, s.Outcome, s.Record.State)
	}
	return b.String()
}
