package remove

import (
	"context"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// audit adds the remove to the server's history, which outlives the
// app's record: who took it away, what served, and how it ended.
func audit(ctx context.Context, server string, p drivers.Audit, app App, release, holder string, start time.Time, err error, rep Reporter) {
	e := drivers.Event{Kind: drivers.EventRemove, Project: app.Project, App: app.Name, Release: release,
		Who: drivers.Who(holder), At: start, Duration: time.Since(start), Outcome: "ok"}
	if err != nil {
		e.Outcome, e.Detail = "failed", err.Error()
	}
	if aerr := p.AppendEvent(ctx, e); aerr != nil {
		rep.Printf(server, "Warning: could not add the remove to the server's history: %v", aerr)
	}
}
