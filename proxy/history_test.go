package proxy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// Each app keeps its last HistoryLimit events, however busy another app
// of the same server is; the log survives a restart; a project sees
// only its own events.
func TestHistoryIsBoundedPerAppAndPersisted(t *testing.T) {
	opts := testOptions(t)
	ctx := context.Background()
	p1 := startProxy(t, opts)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	add := func(project, app, release string) {
		t.Helper()
		at = at.Add(time.Minute)
		e := drivers.Event{Kind: drivers.EventDeploy, Project: project, App: app, Release: release, Who: "alice@laptop", At: at, Outcome: "deployed"}
		if resp := p1.handle(ctx, protocol.Request{Op: protocol.OpAppendEvent, Event: &e}); resp.Error != "" {
			t.Fatal(resp.Error)
		}
	}
	add("shop", "api", "a1")
	for i := range drivers.HistoryLimit + 10 {
		add("shop", "web", fmt.Sprintf("w%d", i))
	}
	add("shop", "", "")
	add("blog", "web", "b1")
	if resp := p1.handle(ctx, protocol.Request{Op: protocol.OpAppendEvent, Event: &drivers.Event{Kind: "deploy"}}); resp.Error == "" {
		t.Fatal("an event without a project was kept")
	}
	p1.stop()

	opts.SocketPath = shortSocketPath(t)
	p2 := startProxy(t, opts)
	resp := p2.handle(ctx, protocol.Request{Op: protocol.OpEvents, Project: "shop"})
	count := map[string]int{}
	for _, e := range resp.Events {
		count[e.App]++
	}
	if count["web"] != drivers.HistoryLimit || count["api"] != 1 || count[""] != 1 || len(resp.Events) != drivers.HistoryLimit+2 {
		t.Fatalf("after a restart shop has %v (%d events)", count, len(resp.Events))
	}
	if first := resp.Events[1]; first.Release != "w10" {
		t.Fatalf("oldest web event kept is %s, want w10 (the first 10 dropped)", first.Release)
	}
	for i := 1; i < len(resp.Events); i++ {
		if resp.Events[i].At.Before(resp.Events[i-1].At) {
			t.Fatal("events not oldest first")
		}
	}
}

// A forced release takes the lock from any holder, says whose it was,
// and the holder's next renewal fails: it stops as a lost lease makes it.
func TestReleaseLock(t *testing.T) {
	s, _ := newTestStore()
	if _, err := s.ReleaseLock("shop/web"); err == nil {
		t.Fatal("released a lock nobody held")
	}
	if _, err := s.Lock("shop/web", "alice@a pid 1", time.Minute); err != nil {
		t.Fatal(err)
	}
	l, err := s.ReleaseLock("shop/web")
	if err != nil || l.Holder != "alice@a pid 1" {
		t.Fatalf("release: %+v %v", l, err)
	}
	if err := s.Renew("shop/web", "alice@a pid 1", time.Minute); err == nil {
		t.Fatal("the old holder renewed a released lock")
	}
	if _, err := s.Lock("shop/web", "bob@b pid 2", time.Minute); err != nil {
		t.Fatalf("lock after release: %v", err)
	}
}

// A successor reloads the state at the handover: the log it restored at
// start is replaced, not doubled.
func TestRestoreDoesNotDoubleTheLog(t *testing.T) {
	s, _ := newTestStore()
	e := drivers.Event{Kind: drivers.EventDeploy, Project: "shop", App: "web", Who: "a@b", At: time.Now(), Outcome: "deployed"}
	s.restore(nil, nil, []drivers.Event{e}, nil)
	s.restore(nil, nil, []drivers.Event{e}, nil)
	if got := s.Events("shop"); len(got) != 1 {
		t.Fatalf("%d events after two restores", len(got))
	}
}
