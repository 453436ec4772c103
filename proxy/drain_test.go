package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// slowBackend answers "/slow" only once release is closed, announcing each
// arrival on arrived.
func slowBackend(t *testing.T, name string) (addr string, arrived chan struct{}, release chan struct{}) {
	arrived, release = make(chan struct{}, 16), make(chan struct{})
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		fmt.Fprint(w, name)
	})
	return srv.Listener.Addr().String(), arrived, release
}

// getAsync GETs url in the background and sends status and body when done.
func (p *testProxy) getAsync(url string) <-chan string {
	out := make(chan string, 1)
	go func() {
		res, err := p.client().Get(url)
		if err != nil {
			out <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		out <- fmt.Sprintf("%d %s", res.StatusCode, b)
	}()
	return out
}

func TestDrainWaitsForSlowRequest(t *testing.T) {
	p := startProxy(t, testOptions(t))
	blue, arrived, release := slowBackend(t, "blue")
	green := addr(backend(t, "green"))
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	slow := p.getAsync("http://web.test/slow")
	<-arrived

	p.setRoute(t, "demo/web", []string{"web.test"}, green)
	if _, body := p.get(t, "http://web.test/"); body != "green" {
		t.Fatalf("after swap served by %q", body)
	}
	if r := p.router.Routes(); len(r) != 1 || fmt.Sprint(r[0].Draining) != "["+blue+"]" {
		t.Fatalf("routes = %+v, want %s draining", r, blue)
	}
	drained := make(chan int, 1)
	go func() {
		n, _ := p.router.Drain(context.Background(), "demo/web", []string{blue}, 10*time.Second)
		drained <- n
	}()
	select {
	case n := <-drained:
		t.Fatalf("drain returned %d while a request was in flight", n)
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	close(release)
	if n := <-drained; n != 0 {
		t.Fatalf("drain = %d, want 0", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("drain took %s after the request finished", d)
	}
	if got := <-slow; got != "200 blue" {
		t.Fatalf("slow request = %q", got)
	}
	if r := p.router.Routes(); len(r[0].Draining) != 0 {
		t.Fatalf("still draining after drain: %+v", r)
	}
}

func TestDrainTimeoutReportsRemaining(t *testing.T) {
	p := startProxy(t, testOptions(t))
	blue, arrived, release := slowBackend(t, "blue")
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	slow1, slow2 := p.getAsync("http://web.test/slow"), p.getAsync("http://web.test/slow")
	<-arrived
	<-arrived
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(backend(t, "green")))

	start := time.Now()
	n, err := p.router.Drain(context.Background(), "demo/web", []string{blue}, 150*time.Millisecond)
	if err != nil || n != 2 {
		t.Fatalf("drain = %d, %v; want 2 remaining", n, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Errorf("drain returned after %s, want about the 150ms timeout", d)
	}
	close(release)
	<-slow1
	<-slow2
	if n, _ := p.router.Drain(context.Background(), "demo/web", []string{blue}, time.Second); n != 0 {
		t.Fatalf("second drain = %d", n)
	}
}

func TestDrainUnknownTargetsAreDrained(t *testing.T) {
	p := startProxy(t, testOptions(t))
	n, err := p.router.Drain(context.Background(), "demo/none", []string{"ghost:80"}, time.Second)
	if n != 0 || err != nil {
		t.Fatalf("drain of unknown = %d, %v", n, err)
	}
}

// A route removal drains like a swap.
func TestRemoveRouteDrains(t *testing.T) {
	p := startProxy(t, testOptions(t))
	blue, arrived, release := slowBackend(t, "blue")
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	slow := p.getAsync("http://web.test/slow")
	<-arrived
	p.router.RemoveRoute("demo/web")
	if r := p.router.Routes(); len(r) != 1 || len(r[0].Draining) != 1 {
		t.Fatalf("routes = %+v, want the app with one draining target", r)
	}
	// The request is held until the drain runs: a drain that did not
	// wait for it would report it still in flight.
	drained := make(chan int, 1)
	go func() {
		n, _ := p.router.Drain(context.Background(), "demo/web", []string{blue}, 5*time.Second)
		drained <- n
	}()
	close(release)
	if got := <-slow; got != "200 blue" {
		t.Fatalf("slow request = %q", got)
	}
	if n := <-drained; n != 0 {
		t.Fatalf("drain = %d", n)
	}
}

// A rollback re-adds a draining target: it keeps its in-flight count.
func TestRollbackRevivesDrainingTarget(t *testing.T) {
	p := startProxy(t, testOptions(t))
	blue, arrived, release := slowBackend(t, "blue")
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	slow := p.getAsync("http://web.test/slow")
	<-arrived
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(backend(t, "green")))
	before := p.router.lookup("demo/web", []string{blue})[0]
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	after := p.router.lookup("demo/web", []string{blue})[0]
	if before != after || after.Inflight() != 1 {
		t.Fatalf("re-added target lost its state (same=%v inflight=%d)", before == after, after.Inflight())
	}
	close(release)
	<-slow
}
