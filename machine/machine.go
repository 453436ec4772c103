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
func New(rec Record, store Persister) *Machine {
	if rec.State == "" {
		rec.State = Idle
	}
	m := &Machine{rec: rec, store: store, now: time.Now}
	m.entered = m.now()
	m.fsm = fsm.NewFSM(string(rec.State), Events, fsm.Callbacks{
		"before_event": m.persist,
	})
	return m
}

// persist saves the record with the destination state; an error cancels
// the transition so memory and store never disagree.
func (m *Machine) persist(ctx context.Context, e *fsm.Event) {
	next := m.rec
	next.State = State(e.Dst)
	now := m.now()
	next.UpdatedAt = now
	if next.Timings == nil {
		next.Timings = map[State]time.Duration{}
	} else {
		next.Timings = copyTimings(next.Timings)
	}
	if m.rec.State != Idle {
		next.Timings[m.rec.State] += now.Sub(m.entered)
	}
	if err := m.store.Save(ctx, next); err != nil {
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
	if err := m.fsm.Event(ctx, event); err != nil {
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
	change(&next)
	next.State = m.rec.State
	next.UpdatedAt = m.now()
	if err := m.store.Save(ctx, next); err != nil {
		return fmt.Errorf("save state %s: %w", next.State, err)
	}
	m.rec = next
	return nil
}
