package steps

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// KeepLease renews the lock on key every lease/3 until stop is called.
// Renewals ignore ctx's cancellation: work that must finish after an
// interrupt keeps its lock until it calls stop. Each renewal may take up
// to lease/3: one that hangs fails, and stop never waits longer. lost is
// called once when the lease is gone: another holder has the lock, or two
// renewals in a row failed; renewals go on after it.
func KeepLease(ctx context.Context, s drivers.Store, key, holder string, lease time.Duration, lost func(error)) (stop func()) {
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		failures, told := 0, false
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rctx, cancel := context.WithTimeout(ctx, lease/3)
			err := s.Renew(rctx, key, holder, lease)
			cancel()
			if err == nil {
				failures = 0
				continue
			}
			failures++
			var held *drivers.LockedError
			if (errors.As(err, &held) || failures >= 2) && !told {
				told = true
				lost(err) // renewals go on: work after the switch still finishes
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
