package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// Lock takes key unless a holder whose lease has not expired (by the
// host's Clock) has it.
func (h *Host) Lock(ctx context.Context, key, holder string, lease time.Duration) (bool, error) {
	if err := h.call(ctx, "Lock", key); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	l, held := h.locks[key]
	if held && l.Holder != holder && now.Before(l.Expires) {
		return false, &drivers.LockedError{Lock: h.withState(l)}
	}
	since := now
	if held && l.Holder == holder {
		since = l.Since // taking it again keeps it, as luma-proxy does
	}
	h.locks[key] = drivers.Lock{Key: key, Holder: holder, Since: since, Expires: now.Add(lease)}
	return held && l.Holder != holder, nil
}

// Renew extends the lease of the holder of key.
func (h *Host) Renew(ctx context.Context, key, holder string, lease time.Duration) error {
	if err := h.call(ctx, "Renew", key); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[key]
	switch {
	case !ok:
		return fmt.Errorf("lock %s: %w", key, drivers.ErrNotFound)
	case l.Holder != holder:
		return &drivers.LockedError{Lock: h.withState(l)}
	}
	l.Expires = h.clock.Now().Add(lease)
	h.locks[key] = l
	return nil
}

// Unlock releases key if holder has it.
func (h *Host) Unlock(ctx context.Context, key, holder string) error {
	if err := h.call(ctx, "Unlock", key); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[key]
	switch {
	case !ok:
		return nil
	case l.Holder != holder:
		return &drivers.LockedError{Lock: h.withState(l)}
	}
	delete(h.locks, key)
	return nil
}

// withState fills in the state of the lock holder's deploy. The host's
// lock is held.
func (h *Host) withState(l drivers.Lock) drivers.Lock {
	l.State = h.records[l.Key].State
	return l
}

// Locks lists the locks by key.
func (h *Host) Locks(ctx context.Context) ([]drivers.Lock, error) {
	if err := h.call(ctx, "Locks", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]drivers.Lock, 0, len(h.locks))
	for _, l := range h.locks {
		out = append(out, h.withState(l))
	}
	slices.SortFunc(out, func(a, b drivers.Lock) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Save keeps a record; a Fault's Match is the state saved.
func (h *Host) Save(ctx context.Context, r machine.Record) error {
	if err := h.call(ctx, "Save", string(r.State)); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r.Timings = maps.Clone(r.Timings)
	h.records[r.Project+"/"+r.App] = r
	return nil
}

// Load returns the record of project/app.
func (h *Host) Load(ctx context.Context, project, app string) (machine.Record, error) {
	if err := h.call(ctx, "Load", project+"/"+app); err != nil {
		return machine.Record{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.records[project+"/"+app]
	if !ok {
		return machine.Record{}, fmt.Errorf("record %s/%s: %w", project, app, drivers.ErrNotFound)
	}
	r.Timings = maps.Clone(r.Timings)
	return r, nil
}

// Forget deletes the record of project/app; a missing one is no error.
func (h *Host) Forget(ctx context.Context, project, app string) error {
	if err := h.call(ctx, "Forget", project+"/"+app); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.records, project+"/"+app)
	return nil
}

// Records lists the records by project/app.
func (h *Host) Records(ctx context.Context) ([]machine.Record, error) {
	if err := h.call(ctx, "Records", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]machine.Record, 0, len(h.records))
	for _, r := range h.records {
		r.Timings = maps.Clone(r.Timings)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b machine.Record) int {
		return strings.Compare(a.Project+"/"+a.App, b.Project+"/"+b.App)
	})
	return out, nil
}

// Record returns the record of project/app without counting a call.
func (h *Host) Record(project, app string) (machine.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.records[project+"/"+app]
	r.Timings = maps.Clone(r.Timings)
	return r, ok
}

// Lease returns the lock on key without counting a call.
func (h *Host) Lease(key string) (drivers.Lock, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[key]
	return l, ok
}
