// Package machine is the deploy state machine of one (app, server):
// its states, the events that move it, and the persistence of where it is.
// It knows nothing of Docker or SSH; steps/ does the work of each state.
package machine

import "github.com/looplab/fsm"

// State is one state of a deployment.
type State string

const (
	Idle           State = "idle"
	Creating       State = "creating"
	HealthChecking State = "health_checking"
	Switching      State = "switching"
	Draining       State = "draining"
	Cleaning       State = "cleaning"
	RollingBack    State = "rolling_back"
)

// States lists every state in the order a successful deploy visits them.
var States = []State{Idle, Creating, HealthChecking, Switching, Draining, Cleaning, RollingBack}

// Event names. Each completes the work of its source state.
const (
	EvDeploy     = "deploy"      // Idle → Creating: lock taken, colors chosen
	EvCreated    = "created"     // Creating → HealthChecking: new containers started
	EvHealthy    = "healthy"     // HealthChecking → Switching: every new container passed
	EvSwitched   = "switched"    // Switching → Draining: proxy serves the new set
	EvDrained    = "drained"     // Draining → Cleaning: old set has no request in flight
	EvCleaned    = "cleaned"     // Cleaning → Idle: old set stopped and removed
	EvRollback   = "rollback"    // any pre-switch state → RollingBack
	EvRolledBack = "rolled_back" // RollingBack → Idle: new set removed, old set serves
)

// Events is the whole transition table. Draining and Cleaning have no
// rollback edge: once the proxy serves the new version, moving traffic back
// silently would hide a half-finished deploy, so a failure there stops the
// run and the next run finishes forward.
var Events = fsm.Events{
	{Name: EvDeploy, Src: []string{string(Idle)}, Dst: string(Creating)},
	{Name: EvCreated, Src: []string{string(Creating)}, Dst: string(HealthChecking)},
	{Name: EvHealthy, Src: []string{string(HealthChecking)}, Dst: string(Switching)},
	{Name: EvSwitched, Src: []string{string(Switching)}, Dst: string(Draining)},
	{Name: EvDrained, Src: []string{string(Draining)}, Dst: string(Cleaning)},
	{Name: EvCleaned, Src: []string{string(Cleaning)}, Dst: string(Idle)},
	{Name: EvRollback, Src: []string{string(Creating), string(HealthChecking), string(Switching)}, Dst: string(RollingBack)},
	{Name: EvRolledBack, Src: []string{string(RollingBack)}, Dst: string(Idle)},
}

// Next is the event that completes s on the happy path.
func Next(s State) string {
	switch s {
	case Creating:
		return EvCreated
	case HealthChecking:
		return EvHealthy
	case Switching:
		return EvSwitched
	case Draining:
		return EvDrained
	case Cleaning:
		return EvCleaned
	case RollingBack:
		return EvRolledBack
	}
	return ""
}

// CanRollBack tells whether the old version can still be restored from s.
func CanRollBack(s State) bool {
	for _, e := range Events {
		if e.Name != EvRollback {
			continue
		}
		for _, src := range e.Src {
			if State(src) == s {
				return true
			}
		}
	}
	return false
}

// Switched tells whether traffic has moved to the new set in s, so that
// recovery must finish forward instead of rolling back.
func Switched(s State) bool { return s == Draining || s == Cleaning }
