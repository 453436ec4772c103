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
// the rest. On failure it releases what it took.
func (d *deploy) lock(ctx context.Context) error {
	order := slices.Clone(d.runs)
	slices.SortFunc(order, func(a, b *run) int { return cmp.Compare(a.srv.Name, b.srv.Name) })
	for _, r := range order {
		if err := r.lock(ctx); err != nil {
			d.unlock(ctx)
			for _, o := range d.runs {
				o.outcome = Failed
			}
			r.err = err
			if ctx.Err() != nil {
				return fmt.Errorf("%w while waiting for the deploy lock on %s: nothing was changed", ErrInterrupted, r.srv.Name)
			}
			return fmt.Errorf("[%s] %w", r.srv.Name, err)
		}
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

// unlock releases every lock taken; it runs also after a failure or an
// interrupt, so it ignores ctx's cancellation.
func (d *deploy) unlock(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, r := range d.runs {
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

// keepLeases keeps every server's lease while the run lives. When one is
// lost (another holder has it, or two renewals in a row failed) the
// returned context is cancelled with ErrLeaseLost: before the switch the
// run rolls back, after it the run finishes.
func (d *deploy) keepLeases(ctx context.Context) (context.Context, func()) {
	live, cancel := context.WithCancelCause(ctx)
	var stops []func()
	for _, r := range d.runs {
		stops = append(stops, KeepLease(ctx, r.srv.Proxy, r.app.Key(), r.opts.Holder, d.opts.Lease, func(err error) {
			r.say("Lost the deploy lock: %v", err)
			cancel(fmt.Errorf("%w on %s: %v", ErrLeaseLost, r.srv.Name, err))
		}))
	}
	return live, func() {
		for _, stop := range stops {
			stop()
		}
		cancel(nil)
	}
}
