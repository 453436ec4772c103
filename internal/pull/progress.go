package pull

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// ticks is how often a transfer in progress says how far it is: every
// second. Tests drive their own channel instead.
var ticks = func() (<-chan time.Time, func()) {
	t := time.NewTicker(time.Second)
	return t.C, t.Stop
}

// Track runs do (a PullImage or PushImage) with a context that collects
// its progress, and calls line on every tick while it runs with how far
// it is and for how long it ran: a transfer over a second says so. It
// returns the last progress and how long do took.
func Track(ctx context.Context, do func(context.Context) error, line func(p drivers.Progress, took time.Duration)) (drivers.Progress, time.Duration, error) {
	var (
		mu   sync.Mutex
		last drivers.Progress
	)
	ctx = drivers.WithProgress(ctx, func(p drivers.Progress) {
		mu.Lock()
		last = p
		mu.Unlock()
	})
	get := func() drivers.Progress {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	start := time.Now()
	tick, stop := ticks()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop()
		for {
			select {
			case <-done:
				return
			case <-tick:
				line(get(), time.Since(start))
			}
		}
	})
	err := do(ctx)
	took := time.Since(start)
	close(done)
	wg.Wait()
	return get(), took, err
}

// Describe is a progress line: "12.3 MB of 45.6 MB, 2 of 5 layers done".
func Describe(p drivers.Progress) string {
	s := mb(p.Bytes)
	if p.Total > 0 {
		s += " of " + mb(p.Total)
	}
	return fmt.Sprintf("%s, %d of %d layers done", s, p.Done, p.Layers)
}

// Rate is bytes over d in MB/s, as the send's lines say it.
func Rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "too fast to time"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/1e6/d.Seconds())
}

// Done is the line that ends a transfer: "12.3 MB in 4.1 s, 3.0 MB/s",
// or that none was needed (the other end had every layer).
func Done(p drivers.Progress, took time.Duration) string {
	if p.Bytes == 0 {
		return "every layer was there already, nothing transferred"
	}
	return fmt.Sprintf("%s in %.1f s, %s", mb(p.Bytes), took.Seconds(), Rate(p.Bytes, took))
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
