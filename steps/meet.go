package steps

import (
	"context"
	"errors"
	"sync"
)

// errElsewhere is what a server's work returns when it stops at a meeting
// for another server's failure rather than its own.
var errElsewhere = errors.New("stopped: the deploy failed on another server")

// meeting is where the servers of one deploy wait for each other (the
// stages of flow that say meet). A server that stops driving its machine
// leaves, so nobody waits for it. The first failure before the switch
// fails every meeting at once, and cancels the work of the others.
type meeting struct {
	mu      sync.Mutex
	changed chan struct{}   // closed and replaced on every change
	members int             // servers still driving their machine
	at      map[string]int  // meeting point → servers that reached it
	passed  map[string]bool // points every server reached before any failure
	failure error
	cancel  context.CancelCauseFunc // the context of the work before the switch
}

func newMeeting(members int, cancel context.CancelCauseFunc) *meeting {
	return &meeting{changed: make(chan struct{}), members: members, at: map[string]int{}, passed: map[string]bool{}, cancel: cancel}
}

func (m *meeting) broadcast() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// leave is called once by each server when it stops driving its machine.
func (m *meeting) leave() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.members--
	for point := range m.at {
		m.complete(point)
	}
	m.broadcast()
}

// complete marks point passed once every member reached it, unless a
// server failed first: then it never passes, and waiters learn of the
// failure.
func (m *meeting) complete(point string) {
	if m.failure == nil && m.at[point] >= m.members {
		m.passed[point] = true
	}
}

// fail records the first failure before the switch and cancels the others'
// work; it is the cause every other server rolls back for.
func (m *meeting) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failure == nil {
		m.failure = err
		m.cancel(err)
		m.broadcast()
	}
}

// failed is the first failure before the switch, or nil.
func (m *meeting) failed() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failure
}

// meet waits until every server still driving its machine reached point.
// A point passed stays passed: a failure after it does not call back those
// on their way out. With failFast it returns errElsewhere when a server
// failed before the point passed, and ctx's error when ctx ends (nil ctx:
// only a failure ends the wait); without, it waits whatever happens.
func (m *meeting) meet(ctx context.Context, point string, failFast bool) error {
	m.mu.Lock()
	m.at[point]++
	m.complete(point)
	m.broadcast()
	for {
		switch {
		case m.passed[point], !failFast && m.at[point] >= m.members:
			m.mu.Unlock()
			return nil
		case failFast && m.failure != nil:
			m.mu.Unlock()
			return errElsewhere
		}
		ch := m.changed
		m.mu.Unlock()
		var done <-chan struct{}
		if failFast && ctx != nil {
			done = ctx.Done()
		}
		select {
		case <-ch:
		case <-done:
			return ctx.Err()
		}
		m.mu.Lock()
	}
}
