package steps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// lock takes the app's deploy lock on every server, in name order so that
// two runs over overlapping servers cannot each hold a part and wait for
// the rest. Each lock is renewed from the moment it is taken, so that
// locks taken early do not expire while the run waits (--lock-wait) for a
// later one. On failure it releases what it took.
func (d *deploy) lock(ctx context.Context) error {
	order := slices.Clone(d.runs)
	slices.SortFunc(order, func(a, b *run) int { return cmp.Compare(a.srv.Name, b.srv.Name) })
	for _, r := range order {
		err := r.lock(d.live)
		if err == nil {
			d.keepLease(ctx, r)
			continue
		}
		d.unlock(ctx)
		for _, o := range d.runs {
			o.outcome = Failed
		}
		r.err = err
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%w while waiting for the deploy lock on %s: nothing was changed", ErrInterrupted, r.srv.Name)
		case d.live.Err() != nil: // a lease taken earlier was lost
			r.err = context.Cause(d.live)
			return fmt.Errorf("%w while waiting for the deploy lock on %s: nothing was changed", context.Cause(d.live), r.srv.Name)
		}
		return fmt.Errorf("[%s] %w", r.srv.Name, err)
	}
	return nil
}

// lock takes the lock on one server, waiting up to LockWait for a live
// holder to release it.
func (r *run) lock(ctx context.Context) error {
	deadline := time.Now().Add(r.opts.LockWait)
	poll := min(max(r.opts.LockWait/10, 20*time.Millisecond), time.Second)
	waiting := false
	for {
		tookOver, err := r.srv.Proxy.Lock(ctx, r.app.Key(), r.opts.Holder, r.opts.Lease)
		if err == nil {
			r.locked, r.tookOver = true, tookOver
			return nil
		}
		var held *drivers.LockedError
		if !errors.As(err, &held) {
			return fmt.Errorf("take deploy lock %s: %w", r.app.Key(), err)
		}
		if !time.Now().Before(deadline) {
			return err
		}
		if !waiting {
			l := held.Lock
			r.say("Waiting for the deploy lock held by %s since %s (state %s)...", l.Holder, l.Since.Format(time.RFC3339), l.State)
			waiting = true
		}
		if err := sleep(ctx, min(poll, time.Until(deadline))); err != nil {
			return err
		}
	}
}

// keepLease renews r's lease until unlock. When it is lost (another holder
// has it, or two renewals in a row failed) the run's live context is
// cancelled with ErrLeaseLost: before the switch the run rolls back, after
// it the run finishes.
func (d *deploy) keepLease(ctx context.Context, r *run) {
	r.stopLease = KeepLease(ctx, r.srv.Proxy, r.app.Key(), r.opts.Holder, d.opts.Lease, func(err error) {
		// Stop the work first, then say so: whoever reads the line may
		// rely on the run already stopping.
		d.cancel(fmt.Errorf("%w on %s: %v", ErrLeaseLost, r.srv.Name, err))
		r.say("Lost the deploy lock: %v", err)
	})
}

// unlock stops renewing and releases every lock taken; it runs also after
// a failure or an interrupt, so it ignores ctx's cancellation, within
// Options.Cleanup.
func (d *deploy) unlock(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.Cleanup)
	defer cancel()
	for _, r := range d.runs {
		if r.stopLease != nil {
			r.stopLease()
			r.stopLease = nil
		}
		if !r.locked {
			continue
		}
		if err := r.srv.Proxy.Unlock(ctx, r.app.Key(), r.opts.Holder); err != nil {
			r.say("Could not release the deploy lock (it expires in %s): %v", r.opts.Lease, err)
			continue
		}
		r.locked = false
	}
}
