package machine

import (
	"context"
	"fmt"
	"time"

	"github.com/looplab/fsm"
)

// Machine is the state machine of one (app, server) deployment. Every
// transition is persisted before it takes effect in memory, so a process
// that dies leaves the state it was working in on record.
type Machine struct {
	fsm     *fsm.FSM
	rec     Record
	store   Persister
	entered time.Time
	now     func() time.Time
}

// New makes a machine positioned at rec.State (Idle when empty), so that an
// interrupted deploy can be resumed where it stopped.
func New(rec Record, store Persister) *Machine { return NewAt(rec, store, time.Now) }

// NewAt is New with a clock, for the record's times and Timings.
func NewAt(rec Record, store Persister, now func() time.Time) *Machine {
	if rec.State == "" {
		rec.State = Idle
	}
	m := &Machine{rec: rec, store: store, now: now}
	m.entered = m.now()
	m.fsm = fsm.NewFSM(string(rec.State), Events, fsm.Callbacks{
		"before_event": m.persist,
	})
	return m
}

// transition is what Fire hands to persist through the event's arguments:
// the caller's context for Save (the fsm itself runs uncancellable, see
// Fire) and the data change saved with the new state.
type transition struct {
	ctx    context.Context
	change func(*Record)
}

// persist saves the record with the destination state; an error cancels
// the transition so memory and store never disagree.
func (m *Machine) persist(_ context.Context, e *fsm.Event) {
	t := e.Args[0].(transition)
	next := m.rec
	next.Timings = copyTimings(m.rec.Timings)
	if t.change != nil {
		t.change(&next)
	}
	next.State = State(e.Dst)
	now := m.now()
	next.UpdatedAt = now
	if m.rec.State == Idle {
		// A new run starts: Timings describe the last run only.
		next.Timings = map[State]time.Duration{}
	} else {
		next.Timings[m.rec.State] += now.Sub(m.entered)
	}
	if err := m.store.Save(t.ctx, next); err != nil {
		e.Cancel(fmt.Errorf("save state %s: %w", e.Dst, err))
		return
	}
	m.rec = next
	m.entered = now
}

func copyTimings(t map[State]time.Duration) map[State]time.Duration {
	c := make(map[State]time.Duration, len(t))
	for k, v := range t {
		c[k] = v
	}
	return c
}

// Fire moves the machine by event. It fails when the event has no edge from
// the current state or the store refuses the new record.
func (m *Machine) Fire(ctx context.Context, event string) error {
	return m.FireWith(ctx, event, nil)
}

// FireWith is Fire that also applies change to the record's data, saved in
// the same write as the new state (change may not set the state).
//
// ctx bounds the Save only. The fsm drops a transition whose context is
// done after its callbacks ran, which would leave the store in the new
// state and memory in the old one; so once Save succeeded the transition
// always takes effect.
func (m *Machine) FireWith(ctx context.Context, event string, change func(*Record)) error {
	err := m.fsm.Event(context.WithoutCancel(ctx), event, transition{ctx: ctx, change: change})
	if err != nil {
		return fmt.Errorf("%s from %s: %w", event, m.State(), err)
	}
	return nil
}

// State is where the machine is.
func (m *Machine) State() State { return State(m.fsm.Current()) }

// Can tells whether event has an edge from the current state.
func (m *Machine) Can(event string) bool { return m.fsm.Can(event) }

// Record returns a copy of the record as last saved.
func (m *Machine) Record() Record { return m.rec }

// Update changes the record's data (not its state) and saves it.
func (m *Machine) Update(ctx context.Context, change func(*Record)) error {
	next := m.rec
	next.Timings = copyTimings(next.Timings)
	change(&next)
	next.State = m.rec.State
	next.UpdatedAt = m.now()
	if err := m.store.Save(ctx, next); err != nil {
		return fmt.Errorf("save state %s: %w", next.State, err)
	}
	m.rec = next
	return nil
}
