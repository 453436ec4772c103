package proxy

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// Store keeps deploy locks and machine records. Locks are leases: a holder
// that dies stops renewing and the next deploy takes over when it expires.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	locks   map[string]drivers.Lock
	records map[string]machine.Record // project/app →
	events  []drivers.Event           // the audit log, oldest first (history.go)
	claims  []drivers.PortClaim       // by project (ports.go)
}

func newStore(now func() time.Time) *Store {
	return &Store{now: now, locks: map[string]drivers.Lock{}, records: map[string]machine.Record{}}
}

// recordKey is how records, and deploy locks, are keyed.
func recordKey(project, app string) string { return project + "/" + app }

// Lock grants key to holder when it is free, already held by holder, or its
// lease expired; tookOver tells the last case (the previous run died).
func (s *Store) Lock(key, holder string, lease time.Duration) (tookOver bool, err error) {
	if err := checkLease(key, holder, lease); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	l, held := s.locks[key]
	switch {
	case !held:
	case l.Holder == holder:
		s.locks[key] = drivers.Lock{Key: key, Holder: holder, Since: l.Since, Expires: now.Add(lease)}
		return false, nil
	case now.Before(l.Expires):
		return false, &drivers.LockedError{Lock: s.withState(l)}
	default:
		tookOver = true
	}
	s.locks[key] = drivers.Lock{Key: key, Holder: holder, Since: now, Expires: now.Add(lease)}
	return tookOver, nil
}

// Renew extends holder's lease on key. Only the holder may renew, even
// after its lease expired, as long as nobody took over.
func (s *Store) Renew(key, holder string, lease time.Duration) error {
	if err := checkLease(key, holder, lease); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, held := s.locks[key]
	if !held {
		return fmt.Errorf("deploy lock %s is not held: %w", key, drivers.ErrNotFound)
	}
	if l.Holder != holder {
		return &drivers.LockedError{Lock: s.withState(l)}
	}
	l.Expires = s.now().Add(lease)
	s.locks[key] = l
	return nil
}

// Unlock releases key. Releasing a lock nobody holds is no error; one held
// by someone else is refused.
func (s *Store) Unlock(key, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, held := s.locks[key]
	if !held {
		return nil
	}
	if l.Holder != holder {
		return &drivers.LockedError{Lock: s.withState(l)}
	}
	delete(s.locks, key)
	return nil
}

func checkLease(key, holder string, lease time.Duration) error {
	switch {
	case key == "":
		return errors.New("lock has no key")
	case holder == "":
		return errors.New("lock has no holder")
	case lease <= 0:
		return errors.New("lock lease must be positive")
	}
	return nil
}

// withState fills in the machine state of the deploy the lock guards.
func (s *Store) withState(l drivers.Lock) drivers.Lock {
	if r, ok := s.records[l.Key]; ok {
		l.State = r.State
	}
	return l
}

// Locks lists every lock, live or expired, sorted by key.
func (s *Store) Locks() []drivers.Lock {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]drivers.Lock, 0, len(s.locks))
	for _, l := range s.locks {
		out = append(out, s.withState(l))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Save keeps r as the record of its project/app.
func (s *Store) Save(r machine.Record) error {
	if r.Project == "" || r.App == "" {
		return errors.New("record needs a project and an app")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[recordKey(r.Project, r.App)] = r
	return nil
}

// Load returns the record of project/app, or drivers.ErrNotFound.
func (s *Store) Load(project, app string) (machine.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.records[recordKey(project, app)]
	if !ok {
		return machine.Record{}, fmt.Errorf("no deploy record for %s: %w", recordKey(project, app), drivers.ErrNotFound)
	}
	return r, nil
}

// Forget deletes the record of project/app; a missing one is no error.
func (s *Store) Forget(project, app string) error {
	if project == "" || app == "" {
		return errors.New("forget needs a project and an app")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, recordKey(project, app))
	return nil
}

// Records lists every record, sorted by project/app.
func (s *Store) Records() []machine.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]machine.Record, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		return recordKey(out[i].Project, out[i].App) < recordKey(out[j].Project, out[j].App)
	})
	return out
}

// restore loads persisted locks, records, events and port claims.
func (s *Store) restore(locks []drivers.Lock, records []machine.Record, events []drivers.Event, claims []drivers.PortClaim) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = slices.Clone(claims)
	s.events = nil // the file's log replaces this one's: a reload at a handover must not double it
	for _, e := range events {
		s.events = drivers.TrimHistory(append(s.events, e), e)
	}
	for _, l := range locks {
		s.locks[l.Key] = l
	}
	for _, r := range records {
		s.records[recordKey(r.Project, r.App)] = r
	}
}
