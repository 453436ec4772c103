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
	if on := switchedOn(rec, r.peers); rec.State == machine.Switching && on != "" {
		// The switch is one decision for every server: once any server
		// recorded it, every route had moved. Rolling this one back would
		// leave it on the other color; finish the switch instead.
		r.forward = true
		r.say("Recovering: the deploy of %s by %s %s in switching%s; it switched on %s, finishing it first",
			rec.Release, who, how, why, on)
		return
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

// switchedOn names a server where the run that left rec recorded its
// switch ("" when none did): the same holder and start, past the switch
// or done there.
func switchedOn(rec machine.Record, peers []machine.Record) string {
	for _, p := range peers {
		if p.Holder != rec.Holder || !p.StartedAt.Equal(rec.StartedAt) || p.Release != rec.Release || p.ToColor != rec.ToColor {
			continue
		}
		if machine.Switched(p.State) || p.State == machine.Idle && p.Outcome == string(Deployed) {
			return p.Server
		}
	}
	return ""
}

// recoveryReason is what the record of a dead run rolled back says.
func (r *run) recoveryReason() error {
	rec := r.m.Record()
	return fmt.Errorf("recovered: the deploy of %s stopped in %s", rec.Release, r.recovered)
}
