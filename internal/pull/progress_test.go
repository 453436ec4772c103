package pull

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// A transfer that sees a tick says how far it is, with its rate; one that
// ends before any tick says nothing until its end. The ticks are the
// test's, so nothing depends on how long anything takes.
func TestTrackTicks(t *testing.T) {
	tick := make(chan time.Time)
	ticks = func() (<-chan time.Time, func()) { return tick, func() {} }
	t.Cleanup(func() {
		ticks = func() (<-chan time.Time, func()) {
			tk := time.NewTicker(time.Second)
			return tk.C, tk.Stop
		}
	})
	var lines []string
	printed := make(chan struct{}, 1)
	line := func(p drivers.Progress, took time.Duration) {
		lines = append(lines, Describe(p)+", "+Rate(p.Bytes, took))
		printed <- struct{}{}
	}
	p, _, err := Track(context.Background(), func(ctx context.Context) error {
		report := drivers.ProgressFunc(ctx)
		report(drivers.Progress{Bytes: 3_000_000, Total: 12_000_000, Layers: 2, Done: 1})
		tick <- time.Now()
		<-printed
		report(drivers.Progress{Bytes: 12_000_000, Total: 12_000_000, Layers: 2, Done: 2})
		return nil
	}, line)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "3.0 MB of 12.0 MB, 1 of 2 layers done, ") || !strings.HasSuffix(lines[0], " MB/s") {
		t.Errorf("lines %q, want one at 3.0 MB of 12.0 MB with a rate", lines)
	}
	if p.Bytes != 12_000_000 || p.Done != 2 {
		t.Errorf("last progress %+v, want the end", p)
	}

	lines = nil
	boom := errors.New("boom")
	if _, _, err := Track(context.Background(), func(context.Context) error { return boom }, line); err != boom {
		t.Errorf("err %v, want the transfer's", err)
	}
	if len(lines) != 0 {
		t.Errorf("a transfer without a tick printed %q", lines)
	}
}

func TestDone(t *testing.T) {
	if got, want := Done(drivers.Progress{Bytes: 45_600_000}, 4*time.Second), "45.6 MB in 4.0 s, 11.4 MB/s"; got != want {
		t.Errorf("Done = %q, want %q", got, want)
	}
	if got := Done(drivers.Progress{Bytes: 1_000_000}, 0); got != "1.0 MB in 0.0 s, too fast to time" {
		t.Errorf("Done of an instant = %q", got)
	}
	if got, want := Done(drivers.Progress{Layers: 3, Done: 3}, time.Second), "every layer was there already, nothing transferred"; got != want {
		t.Errorf("Done of nothing pulled = %q, want %q", got, want)
	}
}
