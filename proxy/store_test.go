package proxy

import (
	"errors"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestStore() (*Store, *clock) {
	c := &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	return newStore(c.now), c
}

func TestLockContention(t *testing.T) {
	s, c := newTestStore()
	if took, err := s.Lock("demo/blog", "alice@a 1", time.Minute); took || err != nil {
		t.Fatalf("first lock: %v %v", took, err)
	}
	s.Save(machine.Record{Project: "demo", App: "blog", State: machine.HealthChecking})
	c.t = c.t.Add(10 * time.Second)
	_, err := s.Lock("demo/blog", "bob@b 2", time.Minute)
	var locked *drivers.LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second holder got %v, want *LockedError", err)
	}
	l := locked.Lock
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if l.Holder != "alice@a 1" || !l.Since.Equal(start) || !l.Expires.Equal(start.Add(time.Minute)) || l.State != machine.HealthChecking {
		t.Fatalf("locked error carries %+v", l)
	}
	// Another key is independent.
	if _, err := s.Lock("demo/api", "bob@b 2", time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestLockSameHolderExtends(t *testing.T) {
	s, c := newTestStore()
	s.Lock("k", "alice", time.Minute)
	since := c.t
	c.t = c.t.Add(50 * time.Second)
	if took, err := s.Lock("k", "alice", time.Minute); took || err != nil {
		t.Fatalf("relock by holder: %v %v", took, err)
	}
	l := s.Locks()[0]
	if !l.Since.Equal(since) || !l.Expires.Equal(c.t.Add(time.Minute)) {
		t.Fatalf("relock = %+v", l)
	}
}

func TestLockExpiredIsTakenOver(t *testing.T) {
	s, c := newTestStore()
	s.Lock("k", "alice", time.Minute)
	c.t = c.t.Add(time.Minute + time.Second)
	took, err := s.Lock("k", "bob", time.Minute)
	if !took || err != nil {
		t.Fatalf("takeover: %v %v", took, err)
	}
	if l := s.Locks()[0]; l.Holder != "bob" || !l.Since.Equal(c.t) {
		t.Fatalf("after takeover %+v", l)
	}
	// The dead holder can no longer renew or unlock.
	if err := s.Renew("k", "alice", time.Minute); !isLocked(err) {
		t.Fatalf("renew by old holder: %v", err)
	}
	if err := s.Unlock("k", "alice"); !isLocked(err) {
		t.Fatalf("unlock by old holder: %v", err)
	}
}

func TestRenewAndUnlockOnlyByHolder(t *testing.T) {
	s, c := newTestStore()
	s.Lock("k", "alice", time.Minute)
	if err := s.Renew("k", "mallory", time.Minute); !isLocked(err) {
		t.Fatalf("renew by non-holder: %v", err)
	}
	if err := s.Renew("none", "alice", time.Minute); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("renew of missing lock: %v", err)
	}
	c.t = c.t.Add(90 * time.Second) // expired, but nobody took over
	if err := s.Renew("k", "alice", time.Minute); err != nil {
		t.Fatalf("renew by holder: %v", err)
	}
	if l := s.Locks()[0]; !l.Expires.Equal(c.t.Add(time.Minute)) {
		t.Fatalf("renew did not extend: %+v", l)
	}
	if err := s.Unlock("k", "mallory"); !isLocked(err) {
		t.Fatalf("unlock by non-holder: %v", err)
	}
	if err := s.Unlock("k", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlock("k", "alice"); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	if took, err := s.Lock("k", "bob", time.Minute); took || err != nil {
		t.Fatalf("lock after unlock: %v %v", took, err)
	}
}

func TestLockNeedsKeyHolderLease(t *testing.T) {
	s, _ := newTestStore()
	for _, c := range []struct {
		key, holder string
		lease       time.Duration
	}{{"", "a", time.Minute}, {"k", "", time.Minute}, {"k", "a", 0}} {
		if _, err := s.Lock(c.key, c.holder, c.lease); err == nil {
			t.Errorf("Lock(%q, %q, %s) accepted", c.key, c.holder, c.lease)
		}
	}
}

func TestRecords(t *testing.T) {
	s, _ := newTestStore()
	if _, err := s.Load("demo", "blog"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("load of missing record: %v", err)
	}
	if err := s.Save(machine.Record{App: "blog"}); err == nil {
		t.Fatal("record without project accepted")
	}
	s.Save(machine.Record{Project: "demo", App: "web", Server: "s1", State: machine.Idle})
	s.Save(machine.Record{Project: "demo", App: "blog", Server: "s1", State: machine.Creating})
	s.Save(machine.Record{Project: "demo", App: "blog", Server: "s1", State: machine.Switching, Release: "r2"})
	r, err := s.Load("demo", "blog")
	if err != nil || r.State != machine.Switching || r.Release != "r2" {
		t.Fatalf("load = %+v, %v", r, err)
	}
	all := s.Records()
	if len(all) != 2 || all[0].App != "blog" || all[1].App != "web" {
		t.Fatalf("records = %+v", all)
	}
}

func isLocked(err error) bool {
	var l *drivers.LockedError
	return errors.As(err, &l)
}

func TestForgetDeletesOnlyThatRecord(t *testing.T) {
	s, _ := newTestStore()
	s.Save(machine.Record{Project: "demo", App: "blog", State: machine.Idle})
	s.Save(machine.Record{Project: "demo", App: "api", State: machine.Idle})
	if err := s.Forget("demo", "blog"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load("demo", "blog"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("forgotten record still loads: %v", err)
	}
	if _, err := s.Load("demo", "api"); err != nil {
		t.Fatalf("another app's record went too: %v", err)
	}
	// Forgetting again, or a record never saved, is no error.
	if err := s.Forget("demo", "blog"); err != nil {
		t.Fatalf("forget again: %v", err)
	}
	if err := s.Forget("", "blog"); err == nil {
		t.Fatal("forget without a project was accepted")
	}
}
