package setup

import (
	"context"
	"fmt"
	"time"

	"github.com/luma-deploy/luma/drivers"
	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
)

// audit adds a setup that succeeded to the server's history, saying what
// it did to luma-proxy. A failed setup is not recorded: its proxy may not
// be there to keep it, and the command's own error says what happened.
func audit(ctx context.Context, server string, p drivers.Audit, pl proxyPlan, opts Options, start time.Time, rep Reporter) {
	e := drivers.Event{Kind: drivers.EventSetup, Project: opts.Project, Who: drivers.Who(opts.Holder), At: start,
		Duration: time.Since(start), Outcome: "ok", Detail: pl.done()}
	if err := p.AppendEvent(ctx, e); err != nil {
		rep.Printf(server, "Warning: could not add this setup to the server's history: %v", err)
	}
}

// done is what the plan did, for the history.
func (pl proxyPlan) done() string {
	name := proxyclient.ContainerName
	switch pl.kind {
	case planStart:
		return fmt.Sprintf("started %s on %s", name, pl.want)
	case planUpToDate:
		return fmt.Sprintf("%s was up to date (revision %d)", name, pl.info.Revision)
	case planUpgrade:
		return fmt.Sprintf("upgraded %s in place (%s)", name, pl.why)
	}
	return fmt.Sprintf("replaced %s: %s", name, pl.why)
}
