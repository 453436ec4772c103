package steps

import (
	"context"

	"github.com/luma-deploy/luma/machine"
)

// flow is the control flow of a deploy on one server, with the machine's
// transition table (machine.Events): the work of each state and the event
// that completes it. The runner (runner.go) calls the steps of the state
// the server's machine is in, then fires done, saving the change the last
// step returned with the new state. A step that fails takes its state's
// rollback edge, or stops the run where there is none (after the switch).
//
// Where a stage says meet, every server of the deploy meets (meet.go):
// each finishes a step before any starts the next, none fires done before
// every one can, and none starts the next state's work before every one
// fired it. So no server switches before every server is healthy, every
// new container has its alias before any route moves, every route moved
// before any is recorded as switched, and every switch is recorded before
// any server drains.
var flow = map[machine.State]stage{
	machine.Idle:           {done: machine.EvDeploy, steps: []step{(*run).plan}},                             // idle.go
	machine.Creating:       {done: machine.EvCreated, steps: []step{(*run).create}},                          // creating.go
	machine.HealthChecking: {done: machine.EvHealthy, steps: []step{(*run).checkHealth}, meet: true},         // health_checking.go
	machine.Switching:      {done: machine.EvSwitched, steps: []step{(*run).alias, (*run).swap}, meet: true}, // switching.go
	machine.Draining:       {done: machine.EvDrained, steps: []step{(*run).drain}},                           // draining.go
	machine.Cleaning:       {done: machine.EvCleaned, steps: []step{(*run).clean}},                           // cleaning.go
	machine.RollingBack:    {done: machine.EvRolledBack, steps: []step{(*run).undo}},                         // rolling_back.go
}

// stage is the work of one state.
type stage struct {
	done  string // the event fired when every step succeeded
	steps []step
	meet  bool // the servers of the deploy meet between steps and around done
}

// A step is part of a state's work on one server. It may return a change
// of the record to save with the state done leads to (nil: none); only
// the last step's counts.
type step func(r *run, ctx context.Context) (func(*machine.Record), error)
