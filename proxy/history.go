package proxy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/luma-deploy/luma/drivers"
)

// AppendEvent adds e to the audit log. Each app keeps its last
// drivers.HistoryLimit events, and so do a project's events of no app, so
// one busy app never pushes another's history out.
func (s *Store) AppendEvent(e drivers.Event) error {
	switch {
	case e.Kind == "" || e.Project == "":
		return errors.New("event needs a kind and a project")
	case e.At.IsZero():
		return errors.New("event needs a time")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = drivers.TrimHistory(append(s.events, e), e)
	return nil
}

// Events is project's audit log, oldest first.
func (s *Store) Events(project string) []drivers.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []drivers.Event
	for _, e := range s.events {
		if e.Project == project {
			out = append(out, e)
		}
	}
	return out
}

// allEvents is every project's log, for the state file.
func (s *Store) allEvents() []drivers.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// ReleaseLock removes key's lock whoever holds it, and returns it.
func (s *Store) ReleaseLock(key string) (drivers.Lock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, held := s.locks[key]
	if !held {
		return drivers.Lock{}, fmt.Errorf("deploy lock %s is not held: %w", key, drivers.ErrNotFound)
	}
	delete(s.locks, key)
	return s.withState(l), nil
}
