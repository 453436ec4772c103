package fake

import (
	"context"
	"errors"
	"fmt"

	"github.com/luma-deploy/luma/drivers"
)

// AppendEvent adds e to the host's audit log, kept as luma-proxy keeps it.
func (h *Host) AppendEvent(ctx context.Context, e drivers.Event) error {
	if err := h.call(ctx, "AppendEvent", e.Kind); err != nil {
		return err
	}
	if e.Kind == "" || e.Project == "" || e.At.IsZero() {
		return errors.New("event needs a kind, a project and a time")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = drivers.TrimHistory(append(h.events, e), e)
	return nil
}

// Events is project's audit log, oldest first.
func (h *Host) Events(ctx context.Context, project string) ([]drivers.Event, error) {
	if err := h.call(ctx, "Events", project); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []drivers.Event
	for _, e := range h.events {
		if e.Project == project {
			out = append(out, e)
		}
	}
	return out, nil
}

// ReleaseLock takes key from whoever holds it.
func (h *Host) ReleaseLock(ctx context.Context, key string) (drivers.Lock, error) {
	if err := h.call(ctx, "ReleaseLock", key); err != nil {
		return drivers.Lock{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.locks[key]
	if !ok {
		return drivers.Lock{}, fmt.Errorf("lock %s: %w", key, drivers.ErrNotFound)
	}
	delete(h.locks, key)
	return h.withState(l), nil
}
