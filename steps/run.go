package steps

import (
	"context"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
	"golang.org/x/sync/errgroup"
)

// run is one server's part of a deploy: its machine and what the steps
// learned on the way that the record does not hold.
type run struct {
	app  App
	srv  Server
	rep  Reporter
	opts Options
	m    *machine.Machine // nil until the record is loaded

	locked    bool
	stopLease func()           // stops renewing the lock; nil when not renewing
	tookOver  bool             // the lock's last holder died with its lease
	recovered machine.State    // state of a dead run recovered first
	begun     time.Time        // when this deploy began: with the holder, it names the run in every server's record
	loaded    machine.Record   // the record as this run found it
	peers     []machine.Record // the other servers' records as this deploy found them

	recovering   bool          // bringing a dead run's record back to Idle
	forward      bool          // recovering a switching record whose run recorded its switch elsewhere: finish the switch
	started      bool          // fired deploy: this run's new set exists
	reason       error         // why it rolls back
	rollbackFrom machine.State // the state it rolled back from

	leftovers []string // containers of the target color left by a dead run
	// oldVolumes are the named volumes the serving set mounts
	// (destination → name): one made before volume names carried the
	// project keeps its name (naming.Volumes).
	oldVolumes map[string]string
	imageID    string // the image's ID on the server, once Creating looked (audit.go)

	route    routeState
	oldRoute drivers.Route // what SetRoute replaced, when route is swapped

	outcome Outcome // set when the run ends on this server
	err     error   // why it did not deploy
}

// routeState is what the run knows of the app's route.
type routeState int

const (
	routeUntouched routeState = iota // still serves the old set
	routeSwapped                     // serves the new set; oldRoute holds the old
	routeUnknown                     // a SetRoute failed midway, or a dead run switched: ask the proxy
)

func (r *run) say(format string, args ...any) { r.rep.Printf(r.srv.Name, format, args...) }

func (r *run) state() machine.State {
	if r.m == nil {
		return machine.Idle
	}
	return r.m.State()
}

func (r *run) record() machine.Record {
	if r.m == nil {
		return machine.Record{Project: r.app.Project, App: r.app.Name, Server: r.srv.Name}
	}
	return r.m.Record()
}

// parallel runs fn for every item at once (containers of one server: a
// handful) and returns the first error. With failFast the first error also
// cancels the context of the others.
func parallel[T any](ctx context.Context, items []T, failFast bool, fn func(ctx context.Context, item T) error) error {
	var g *errgroup.Group
	if failFast {
		g, ctx = errgroup.WithContext(ctx)
	} else {
		g = new(errgroup.Group)
	}
	for _, it := range items {
		g.Go(func() error { return fn(ctx, it) })
	}
	return g.Wait()
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
