package machine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// store is a Persister that remembers every record saved and can refuse.
type store struct {
	saved []Record
	err   error
	// during runs inside Save, to look at the machine mid-transition.
	during func(r Record)
}

func (s *store) Save(ctx context.Context, r Record) error {
	if s.during != nil {
		s.during(r)
	}
	if s.err != nil {
		return s.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.saved = append(s.saved, r)
	return nil
}

// edges returns the transition table as source → event → destination.
func edges() map[State]map[string]State {
	out := map[State]map[string]State{}
	for _, e := range Events {
		for _, src := range e.Src {
			if out[State(src)] == nil {
				out[State(src)] = map[string]State{}
			}
			out[State(src)][e.Name] = State(e.Dst)
		}
	}
	return out
}

func TestEveryEdgeFiresFromItsSourceOnly(t *testing.T) {
	table := edges()
	for _, src := range States {
		for _, e := range Events {
			dst, ok := table[src][e.Name]
			s := &store{}
			m := New(Record{Project: "p", App: "blog", State: src}, s)
			if got := m.Can(e.Name); got != ok {
				t.Errorf("Can(%s) from %s = %v, want %v", e.Name, src, got, ok)
			}
			err := m.Fire(context.Background(), e.Name)
			if !ok {
				if err == nil {
					t.Errorf("%s fired from %s, which has no such edge", e.Name, src)
				}
				if m.State() != src || len(s.saved) != 0 {
					t.Errorf("%s from %s: state %s, %d saves; want unchanged", e.Name, src, m.State(), len(s.saved))
				}
				continue
			}
			if err != nil {
				t.Errorf("%s from %s: %v", e.Name, src, err)
				continue
			}
			if m.State() != dst || len(s.saved) != 1 || s.saved[0].State != dst {
				t.Errorf("%s from %s: state %s, saved %v; want %s saved once", e.Name, src, m.State(), s.saved, dst)
			}
		}
	}
}

func TestTableShape(t *testing.T) {
	table := edges()
	for _, s := range States {
		if s == Idle {
			continue
		}
		next := Next(s)
		if _, ok := table[s][next]; !ok {
			t.Errorf("Next(%s) = %q, which has no edge from %s", s, next, s)
		}
		_, rollback := table[s][EvRollback]
		if CanRollBack(s) != rollback {
			t.Errorf("CanRollBack(%s) = %v, table says %v", s, CanRollBack(s), rollback)
		}
		if Switched(s) && rollback {
			t.Errorf("%s is after the switch but has a rollback edge", s)
		}
	}
	for _, s := range []State{Creating, HealthChecking, Switching} {
		if !CanRollBack(s) {
			t.Errorf("%s cannot roll back", s)
		}
	}
	if Next(Idle) != "" {
		t.Errorf("Next(Idle) = %q", Next(Idle))
	}
	// Every state is reachable from Idle and leads back to it.
	for _, s := range States {
		if s != Idle && !reaches(table, Idle, s) {
			t.Errorf("%s is not reachable from idle", s)
		}
		if !reaches(table, s, Idle) && s != Idle {
			t.Errorf("%s never returns to idle", s)
		}
	}
}

func reaches(table map[State]map[string]State, from, to State) bool {
	seen := map[State]bool{}
	queue := []State{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, dst := range table[s] {
			if dst == to {
				return true
			}
			if !seen[dst] {
				seen[dst] = true
				queue = append(queue, dst)
			}
		}
	}
	return false
}

func TestPersistsBeforeTransition(t *testing.T) {
	s := &store{}
	var m *Machine
	s.during = func(r Record) {
		if m.State() != Idle {
			t.Errorf("machine already in %s while %s is being saved", m.State(), r.State)
		}
	}
	m = New(Record{}, s)
	if err := m.Fire(context.Background(), EvDeploy); err != nil {
		t.Fatal(err)
	}
	if len(s.saved) != 1 || s.saved[0].State != Creating || m.Record().State != Creating {
		t.Fatalf("saved %v, record %v", s.saved, m.Record())
	}
}

func TestSaveFailureCancelsTransition(t *testing.T) {
	boom := errors.New("disk full")
	s := &store{err: boom}
	m := New(Record{State: HealthChecking, Release: "r1"}, s)
	before := m.Record()
	err := m.FireWith(context.Background(), EvHealthy, func(r *Record) { r.Active = "green" })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if m.State() != HealthChecking || m.Record().Active != before.Active || m.Record().State != HealthChecking {
		t.Fatalf("state %s, record %+v after a failed save", m.State(), m.Record())
	}
	// The machine still works once the store does.
	s.err = nil
	if err := m.Fire(context.Background(), EvRollback); err != nil || m.State() != RollingBack {
		t.Fatalf("rollback after recovery of the store: %v, %s", err, m.State())
	}
}

func TestUpdateFailureKeepsRecord(t *testing.T) {
	s := &store{err: errors.New("gone")}
	m := New(Record{State: Draining, Error: ""}, s)
	if err := m.Update(context.Background(), func(r *Record) { r.Error = "x"; r.State = Idle }); err == nil {
		t.Fatal("Update succeeded with a failing store")
	}
	if m.Record().Error != "" || m.State() != Draining {
		t.Fatalf("record changed: %+v", m.Record())
	}
	s.err = nil
	if err := m.Update(context.Background(), func(r *Record) { r.Error = "x"; r.State = Idle }); err != nil {
		t.Fatal(err)
	}
	if m.Record().Error != "x" || m.State() != Draining || s.saved[0].State != Draining {
		t.Fatalf("Update changed the state or lost data: %+v", m.Record())
	}
}

// A context cancelled once Save succeeded must not leave the store ahead of
// memory (the fsm drops such a transition unless Fire shields it).
func TestCancelledContextNeverSplitsStoreAndMemory(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &store{during: func(Record) { cancel() }}
	m := New(Record{}, s)
	err := m.Fire(ctx, EvDeploy)
	// Save saw a cancelled context and refused: nothing moved.
	if err == nil || m.State() != Idle || len(s.saved) != 0 {
		t.Fatalf("err %v, state %s, saved %v", err, m.State(), s.saved)
	}

	// A store that finishes its write although the context ends: memory follows.
	ign := &ignoringStore{}
	ctx, cancel = context.WithCancel(context.Background())
	ign.during = cancel
	m = New(Record{}, ign)
	if err := m.Fire(ctx, EvDeploy); err != nil {
		t.Fatalf("Fire: %v", err)
	}
	if m.State() != Creating || ign.last.State != Creating {
		t.Fatalf("memory %s, store %s", m.State(), ign.last.State)
	}
}

type ignoringStore struct {
	last   Record
	during func()
}

func (s *ignoringStore) Save(_ context.Context, r Record) error {
	s.during()
	s.last = r
	return nil
}

func TestFireWithSavesDataAndStateTogether(t *testing.T) {
	s := &store{}
	m := New(Record{Project: "p", App: "blog"}, s)
	err := m.FireWith(context.Background(), EvDeploy, func(r *Record) {
		r.ToColor, r.New = "blue", []string{"blog-blue"}
		r.State = Cleaning // ignored: the event decides the state
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.saved) != 1 {
		t.Fatalf("%d saves, want 1", len(s.saved))
	}
	got := s.saved[0]
	if got.State != Creating || got.ToColor != "blue" || !slices.Equal(got.New, []string{"blog-blue"}) {
		t.Fatalf("saved %+v", got)
	}
}

func TestTimings(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := &store{}
	m := NewAt(Record{Timings: map[State]time.Duration{Creating: time.Hour}}, s, clock)
	steps := []struct {
		event string
		spent time.Duration // in the state being left
	}{
		{EvDeploy, 5 * time.Second}, // idle time is not counted
		{EvCreated, 2 * time.Second},
		{EvHealthy, 3 * time.Second},
		{EvSwitched, 10 * time.Millisecond},
		{EvDrained, time.Second},
		{EvCleaned, 500 * time.Millisecond},
	}
	for _, st := range steps {
		now = now.Add(st.spent)
		if err := m.Fire(context.Background(), st.event); err != nil {
			t.Fatal(err)
		}
	}
	want := map[State]time.Duration{
		Creating: 2 * time.Second, HealthChecking: 3 * time.Second, Switching: 10 * time.Millisecond,
		Draining: time.Second, Cleaning: 500 * time.Millisecond,
	}
	got := m.Record().Timings
	if len(got) != len(want) {
		t.Fatalf("timings %v, want %v (the last run only)", got, want)
	}
	for s, d := range want {
		if got[s] != d {
			t.Errorf("timings[%s] = %s, want %s", s, got[s], d)
		}
	}
	if !m.Record().UpdatedAt.Equal(now) {
		t.Errorf("UpdatedAt %s, want %s", m.Record().UpdatedAt, now)
	}
	// The next run starts afresh.
	now = now.Add(time.Minute)
	if err := m.Fire(context.Background(), EvDeploy); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	if err := m.Fire(context.Background(), EvRollback); err != nil {
		t.Fatal(err)
	}
	if got := m.Record().Timings; len(got) != 1 || got[Creating] != time.Second {
		t.Fatalf("second run timings %v", got)
	}
	// A saved copy is not changed by later transitions.
	first := s.saved[len(steps)-1].Timings
	if first[Creating] != 2*time.Second {
		t.Fatalf("an earlier saved record changed: %v", first)
	}
}

// A machine made from a record resumes where it stopped.
func TestResume(t *testing.T) {
	for _, st := range States {
		m := New(Record{State: st}, &store{})
		if m.State() != st {
			t.Errorf("New at %s is in %s", st, m.State())
		}
	}
	if New(Record{}, &store{}).State() != Idle {
		t.Error("an empty record does not start idle")
	}
}

func TestMermaidHasEveryEdge(t *testing.T) {
	out := Mermaid()
	n := 0
	for _, e := range Events {
		for _, src := range e.Src {
			n++
			line := "    " + src + " --> " + e.Dst + ": " + e.Name + "\n"
			if !strings.Contains(out, line) {
				t.Errorf("Mermaid lacks %q", line)
			}
		}
	}
	if got := strings.Count(out, "-->"); got != n+1 {
		t.Errorf("Mermaid has %d arrows, want %d", got, n+1)
	}
}
