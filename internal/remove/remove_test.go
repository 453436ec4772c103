package remove

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/steps"
)

var bg = context.Background()

type lines struct {
	mu sync.Mutex
	l  []string
}

func (r *lines) Printf(server, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.l = append(r.l, "["+server+"] "+fmt.Sprintf(format, args...))
}

var blog = App{Project: "demo", Name: "blog", DrainTimeout: 5 * time.Second, StopTimeout: 7 * time.Second}

var opts = Options{Holder: "alice@laptop 1", Lease: 30 * time.Second}

// deployed is a server where blog runs blue (routed), an exited green and a
// pre-blue-green container, beside another app, a service and a container
// without luma labels.
func deployed(t *testing.T) *fake.Host {
	t.Helper()
	h := fake.NewHost("s1")
	h.AddImage("app:1")
	if err := h.EnsureNetwork(bg, "demo-network", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		run    bool
	}{
		{"blog-blue-1", map[string]string{"luma.project": "demo", "luma.app": "blog", "luma.color": "blue"}, true},
		{"blog-blue-2", map[string]string{"luma.project": "demo", "luma.app": "blog", "luma.color": "blue"}, true},
		{"blog-green-1", map[string]string{"luma.project": "demo", "luma.app": "blog", "luma.color": "green"}, false},
		{"blog-old", map[string]string{"luma.project": "demo", "luma.app": "blog"}, true},
		{"api-blue-1", map[string]string{"luma.project": "demo", "luma.app": "api", "luma.color": "blue"}, true},
		{"blog-other", map[string]string{"luma.project": "other", "luma.app": "blog"}, true},
		{"demo-db", map[string]string{"luma.project": "demo", "luma.service": "db"}, true},
		{"blog", nil, true},
	} {
		if err := h.Create(bg, drivers.ContainerSpec{Name: c.name, Image: "app:1", Network: "demo-network", Labels: c.labels}); err != nil {
			t.Fatal(err)
		}
		if c.run {
			if err := h.Start(bg, c.name); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range []drivers.Route{
		{App: "demo/blog", Hosts: []string{"blog.test"}, Targets: []string{"blog-blue-1:3000", "blog-blue-2:3000"}},
		{App: "demo/api", Hosts: []string{"api.test"}, Targets: []string{"api-blue-1:3000"}},
	} {
		if _, err := h.SetRoute(bg, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, app := range []string{"blog", "api"} {
		if err := h.Save(bg, machine.Record{Project: "demo", App: app, State: machine.Idle, Active: "blue"}); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func names(h *fake.Host) []string {
	var out []string
	for _, c := range h.Containers() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

func TestServerRemovesOnlyTheApp(t *testing.T) {
	h := deployed(t)
	var out lines
	if err := Server(bg, "s1", h, h, blog, opts, &out); err != nil {
		t.Fatal(err)
	}
	want := []string{"[s1] Removing blog...", "[s1] Stopped and removed 4 containers", "[s1] blog removed ✓"}
	if !slices.Equal(out.l, want) {
		t.Fatalf("output %q, want %q", out.l, want)
	}
	if got := names(h); !slices.Equal(got, []string{"api-blue-1", "blog", "blog-other", "demo-db"}) {
		t.Fatalf("containers left: %v", got)
	}
	routes, _ := h.Routes(bg)
	if len(routes) != 1 || routes[0].App != "demo/api" {
		t.Fatalf("routes left: %+v", routes)
	}
	if _, ok := h.Record("demo", "blog"); ok {
		t.Fatal("blog's record is still there")
	}
	if _, ok := h.Record("demo", "api"); !ok {
		t.Fatal("api's record went too")
	}
	if _, ok := h.Lease("demo/blog"); ok {
		t.Fatal("the deploy lock was not released")
	}
	// The route went before any routed container stopped, and the drain
	// covered what it served.
	if v := h.Violations(); len(v) != 0 {
		t.Fatalf("violations: %v", v)
	}
	if h.Calls("Drain") != 1 {
		t.Fatalf("Drain calls = %d, want 1", h.Calls("Drain"))
	}

	// Again: nothing left to do, and no error.
	out = lines{}
	if err := Server(bg, "s1", h, h, blog, opts, &out); err != nil {
		t.Fatal(err)
	}
	if out.l[1] != "[s1] Stopped and removed 0 containers" {
		t.Fatalf("second remove said %q", out.l)
	}
}

func TestServerUsesTheStopTimeout(t *testing.T) {
	h := deployed(t)
	// Keep the spec visible after Remove by failing it for one container.
	h.Inject(fake.Fault{Op: "Remove", Match: "blog-blue-2", Nth: 1})
	err := Server(bg, "s1", h, h, blog, opts, &lines{})
	if err == nil || !strings.Contains(err.Error(), "remove blog-blue-2") {
		t.Fatalf("err = %v", err)
	}
	if _, stopped, ok := h.Spec("blog-blue-2"); !ok || stopped != blog.StopTimeout {
		t.Fatalf("stopped with %v, want %v", stopped, blog.StopTimeout)
	}
	// A failed remove keeps the record, so status still tells the story,
	// and releases the lock, so it can be run again.
	if _, ok := h.Record("demo", "blog"); !ok {
		t.Fatal("record forgotten although a container is left")
	}
	if _, ok := h.Lease("demo/blog"); ok {
		t.Fatal("lock kept after a failure")
	}
	if err := Server(bg, "s1", h, h, blog, opts, &lines{}); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if _, ok := h.Record("demo", "blog"); ok {
		t.Fatal("record left after the second run")
	}
}

func TestServerRefusesWhileLocked(t *testing.T) {
	h := deployed(t)
	if _, err := h.Lock(bg, "demo/blog", "bob@desk 2", time.Minute); err != nil {
		t.Fatal(err)
	}
	var out lines
	err := Server(bg, "s1", h, h, blog, opts, &out)
	var held *drivers.LockedError
	if !errors.As(err, &held) || held.Lock.Holder != "bob@desk 2" {
		t.Fatalf("err = %v, want the holder", err)
	}
	if len(out.l) != 0 || len(names(h)) != 8 || h.Calls("RemoveRoute") != 0 {
		t.Fatalf("something changed under another holder's lock: %q %v", out.l, names(h))
	}
	if l, ok := h.Lease("demo/blog"); !ok || l.Holder != "bob@desk 2" {
		t.Fatalf("bob's lock = %+v, %v", l, ok)
	}
}

func TestServerReportsRequestsLeftAfterDrain(t *testing.T) {
	h := deployed(t)
	h.SetInFlight("blog-blue-2:3000", 2)
	var out lines
	if err := Server(bg, "s1", h, h, blog, opts, &out); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(out.l, "[s1] 2 request(s) still in flight after 5s; stopping the containers anyway") {
		t.Fatalf("output %q", out.l)
	}
}

// said is a reporter that tells when a line containing a word is printed.
type said struct {
	lines
	word string
	once sync.Once
	ch   chan struct{}
}

func (s *said) Printf(server, format string, args ...any) {
	s.lines.Printf(server, format, args...)
	if strings.Contains(fmt.Sprintf(format, args...), s.word) {
		s.once.Do(func() { close(s.ch) })
	}
}

// A remove whose lock was taken from it stops, as a deploy does: another
// run now owns the app on this server.
func TestServerStopsWhenTheLeaseIsLost(t *testing.T) {
	h := deployed(t)
	out := &said{word: "deploy lock", ch: make(chan struct{})}
	o := opts
	o.Lease = 30 * time.Millisecond
	h.Inject(fake.Fault{Op: "Drain", Nth: 1, Pass: true, Do: func() {
		h.Clock().Advance(time.Minute)
		if _, err := h.Lock(bg, "demo/blog", "mallory pid 1", time.Hour); err != nil {
			t.Error(err)
		}
		<-out.ch // the run learnt it lost the lock
	}})
	err := Server(bg, "s1", h, h, blog, o, out)
	if !errors.Is(err, steps.ErrLeaseLost) {
		t.Fatalf("err = %v, want the lease lost", err)
	}
	if got := names(h); len(got) != 8 {
		t.Fatalf("containers removed without the lock: %v", got)
	}
	if _, ok := h.Record("demo", "blog"); !ok {
		t.Fatal("record forgotten without the lock")
	}
	if l, _ := h.Lease("demo/blog"); l.Holder != "mallory pid 1" {
		t.Fatalf("lock %+v", l)
	}
}

// Releasing the lock is bounded: a proxy that stops answering cannot
// hold the remove forever once its work is done.
func TestServerUnlockBounded(t *testing.T) {
	h := deployed(t)
	o := opts
	o.Lease = 300 * time.Millisecond
	h.Inject(fake.Fault{Op: "Unlock", Hang: true})
	var out lines
	done := make(chan error, 1)
	go func() { done <- Server(bg, "s1", h, h, blog, o, &out) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second): // keeps a hung remove from hanging the test
		t.Fatal("remove blocked on a hung Unlock")
	}
	if !slices.ContainsFunc(out.l, func(l string) bool { return strings.Contains(l, "Could not release the deploy lock") }) {
		t.Fatalf("output %q", out.l)
	}
}
