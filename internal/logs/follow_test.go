package logs_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/logs"
	"github.com/luma-deploy/luma/internal/naming"
)

// follow starts Run with Follow; cancel it and read its error from the
// channel.
func follow(t *testing.T, o logs.Options) (*printed, context.CancelFunc, <-chan error) {
	t.Helper()
	p := &printed{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o.Project, o.App, o.Follow, o.Poll, o.Print = "acme", "blog", true, 5*time.Millisecond, p.print
	done := make(chan error, 1)
	go func() { done <- logs.Run(ctx, o) }()
	return p, cancel, done
}

// waitFor waits until every line in want was printed.
func (p *printed) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.get()
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return slices.Contains(got, w) })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines %q never printed; got %q", missing, got)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFollowAcrossADeploy(t *testing.T) {
	web1, web2 := host(t, "web1"), host(t, "web2")
	for _, h := range []*fake.Host{web1, web2} {
		run(t, h, "blog-blue", naming.Blue)
		active(t, h, naming.Blue)
		say(h, "blog-blue", drivers.Stdout, "too old\nbefore", time.Second)
	}
	p, cancel, done := follow(t, logs.Options{Servers: servers(web1, web2), Tail: 1})
	p.waitFor(t, "[web1 blog-blue] stdout before", "[web2 blog-blue] stdout before")
	say(web1, "blog-blue", drivers.Stderr, "live", time.Second)
	p.waitFor(t, "[web1 blog-blue] stderr live")

	// A deploy on web1: green starts and logs before the next poll sees
	// it, takes over, and blue stops and goes.
	run(t, web1, "blog-green", naming.Green)
	say(web1, "blog-green", drivers.Stdout, "green starting", time.Second)
	p.waitFor(t, "[web1 blog-green] stdout green starting")
	say(web1, "blog-green", drivers.Stdout, "green serving", time.Second)
	p.waitFor(t, "[web1 blog-green] stdout green serving")
	ctx := context.Background()
	if err := web1.Stop(ctx, "blog-blue", 0); err != nil {
		t.Fatal(err)
	}
	if err := web1.Remove(ctx, "blog-blue"); err != nil {
		t.Fatal(err)
	}
	// The next deploy brings a new blog-blue: another container, followed
	// from its start.
	run(t, web1, "blog-blue", naming.Blue)
	say(web1, "blog-blue", drivers.Stdout, "blue again", time.Second)
	say(web2, "blog-blue", drivers.Stdout, "web2 still", time.Second)
	p.waitFor(t, "[web1 blog-blue] stdout blue again", "[web2 blog-blue] stdout web2 still")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after Ctrl-C: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end after its context did")
	}
	got := p.get()
	for _, l := range got {
		if strings.Contains(l, "too old") || strings.Count(strings.Join(got, "\n"), l) != 1 {
			t.Errorf("line %q printed past --tail 1 or twice: %q", l, got)
		}
	}
	if len(got) != 7 {
		t.Errorf("printed %d lines, want 7: %q", len(got), got)
	}
}

func TestFollowServerFails(t *testing.T) {
	web1, web2 := host(t, "web1"), host(t, "web2")
	for _, h := range []*fake.Host{web1, web2} {
		run(t, h, "blog-blue", naming.Blue)
	}
	// The first List chooses the containers, the second is the first poll.
	web2.Inject(fake.Fault{Op: "List", Nth: 2, Err: errors.New("connection lost")})
	_, _, done := follow(t, logs.Options{Servers: servers(web1, web2), Tail: drivers.AllLines})
	select {
	case err := <-done:
		if err == nil || err.Error() != "[web2] connection lost" {
			t.Fatalf("Run with web2 lost: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run went on following with a server lost")
	}
}

func TestFollowPrintFails(t *testing.T) {
	web1 := host(t, "web1")
	run(t, web1, "blog-blue", naming.Blue)
	say(web1, "blog-blue", drivers.Stdout, "one\ntwo", 0)
	stop := errors.New("stdout closed")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := logs.Run(ctx, logs.Options{Project: "acme", App: "blog", Servers: servers(web1), Tail: drivers.AllLines, Follow: true,
		Print: func(logs.Line) error { return stop }})
	if !errors.Is(err, stop) {
		t.Fatalf("Run whose Print fails: %v", err)
	}
}
