package steps

import (
	"time"

	"github.com/luma-deploy/luma/drivers"
	"golang.org/x/sync/errgroup"
)

// audit adds the run to each server's audit log, while the locks are
// still held: every server that took its lock gets an event, whatever the
// outcome. The history is a record of what happened, not part of the
// deploy: a server that cannot keep it gets a warning line, nothing more.
func (d *deploy) audit(started time.Time) {
	took := d.opts.Now().Sub(started)
	var g errgroup.Group
	for _, r := range d.runs {
		if !r.locked {
			continue
		}
		g.Go(func() error {
			ctx, cancel := r.detached(d.ctx)
			defer cancel()
			e := r.event(started, took)
			if err := r.srv.Proxy.AppendEvent(ctx, e); err != nil {
				r.say("Warning: could not add this %s to the server's history: %v", d.opts.Kind, err)
			}
			return nil
		})
	}
	g.Wait()
}

// event is the audit event of r's run.
func (r *run) event(started time.Time, took time.Duration) drivers.Event {
	rec := r.record()
	e := drivers.Event{
		Kind: r.opts.Kind, Project: r.app.Project, App: r.app.Name, Release: r.app.Release, Image: r.app.ImageRef,
		Who: drivers.Who(r.opts.Holder), At: started, Duration: took, Outcome: string(r.outcome),
	}
	if e.Image == "" {
		e.Image = r.app.Image
	}
	// What served before: the record's previous release once this run
	// started, else what the record still names.
	e.Previous = rec.Release
	if r.started {
		e.Previous = rec.Previous
	}
	e.ImageID = r.imageID // "" when the run stopped before Creating looked
	if r.err != nil {
		e.Detail = r.err.Error()
	}
	return e
}
