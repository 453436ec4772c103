package steps

import (
	"fmt"

	"github.com/luma-deploy/luma/machine"
)

// beginRecovery starts bringing the record of a run that stopped (died, or
// failed after the switch) back to Idle before this run deploys: the runner
// finishes it forward after the switch and takes the rollback edge before
// it. That work ignores the deploy's cancellation, within Options.Cleanup.
func (r *run) beginRecovery() {
	rec := r.m.Record()
	r.recovering, r.recovered = true, rec.State
	who := rec.Holder
	if who == "" {
		who = "an earlier run"
	}
	how := "stopped"
	if r.tookOver {
		how = "died (its lock lease expired)"
	}
	why := ""
	if rec.Error != "" {
		why = ": " + rec.Error
	}
	if machine.Switched(rec.State) {
		r.say("Recovering: the deploy of %s by %s %s in %s%s; traffic is on %s, finishing it first",
			rec.Release, who, how, rec.State, why, rec.ToColor)
		return
	}
	r.say("Recovering: the deploy of %s by %s %s in %s%s; rolling it back first", rec.Release, who, how, rec.State, why)
	if rec.State == machine.Switching || rec.State == machine.RollingBack {
		r.route = routeUnknown // it may have moved the route
	}
	if rec.State == machine.RollingBack {
		r.reason, r.rollbackFrom = r.recoveryReason(), machine.RollingBack
	}
}

// recoveryReason is what the record of a dead run rolled back says.
func (r *run) recoveryReason() error {
	rec := r.m.Record()
	return fmt.Errorf("recovered: the deploy of %s stopped in %s", rec.Release, r.recovered)
}
