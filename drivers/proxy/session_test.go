package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	client "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy"
)

// pipeSession is `luma proxy admin --session` run in-process over pipes.
type pipeSession struct {
	e      *execer
	stdin  *io.PipeWriter
	stdout *io.PipeReader
	cutOut *io.PipeWriter
	done   chan struct{}
	err    error
}

func (e *execer) ExecStream(ctx context.Context, container string, cmd []string) (drivers.ExecSession, error) {
	e.sessions.Add(1)
	if e.missing || container != client.ContainerName {
		return nil, fmt.Errorf("exec %s in %s: %w", cmd[0], container, drivers.ErrNotFound)
	}
	if e.stopped {
		return nil, fmt.Errorf("exec %s in %s: %w (container is not running)", cmd[0], container, drivers.ErrConflict)
	}
	e.used(cmd[0])
	if !slices.Equal(cmd[1:], []string{"proxy", "admin", "--session"}) || !e.knows(cmd[0]) {
		return nil, fmt.Errorf("unexpected command %q", cmd)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &pipeSession{e: e, stdin: inW, stdout: outR, cutOut: outW, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if e.noSession {
			s.err = fmt.Errorf("exec %s in %s: exit code 1: Error: unknown flag: --session", cmd[0], container)
		} else if err := proxy.Session(context.Background(), e.socket, inR, outW); err != nil {
			s.err = fmt.Errorf("exec %s in %s: exit code 1: %v", cmd[0], container, err)
		}
		inR.Close()
		outW.Close()
	}()
	context.AfterFunc(ctx, s.cut) // as the docker driver closes its connection
	e.mu.Lock()
	e.cur = s
	e.mu.Unlock()
	return s, nil
}

func (s *pipeSession) Write(p []byte) (int, error) {
	s.e.mu.Lock()
	brk := s.e.breakOn != "" && strings.Contains(string(p), `"op":"`+s.e.breakOn+`"`)
	s.e.mu.Unlock()
	if brk { // the connection dies with the request unsent
		s.cut()
		return len(p), nil
	}
	n, err := s.stdin.Write(p) // returns once the session has read it
	if err == nil {
		s.e.handed("session", p)
	}
	return n, err
}

func (s *pipeSession) Close() error      { return s.stdin.Close() }
func (s *pipeSession) Stdout() io.Reader { return s.stdout }
func (s *pipeSession) Wait() error       { <-s.done; return s.err }

// cut breaks the stream as a restarted proxy or a dropped connection does.
func (s *pipeSession) cut() {
	s.cutOut.CloseWithError(errors.New("connection reset"))
	s.stdin.CloseWithError(errors.New("connection reset"))
}

// current is the session the client opened last.
func (e *execer) current() *pipeSession {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur
}

// slowTarget is a backend whose "/slow" answers once release is closed.
func slowTarget(t *testing.T) (addr string, arrived, release chan struct{}) {
	arrived, release = make(chan struct{}, 8), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		fmt.Fprint(w, "old")
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), arrived, release
}

// draining sets up app demo/web whose old target has a request in flight,
// so a Drain of it blocks until release is closed. It returns the old
// target, release and the in-flight request's result.
func draining(t *testing.T, c *client.Client, httpAddr string) (string, chan struct{}, chan string) {
	t.Helper()
	ctx := context.Background()
	old, arrived, release := slowTarget(t)
	next := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "new") }))
	t.Cleanup(next.Close)
	if _, err := c.SetRoute(ctx, drivers.Route{App: "demo/web", Hosts: []string{"web.test"}, Targets: []string{old}}); err != nil {
		t.Fatal(err)
	}
	slow := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+httpAddr+"/slow", nil)
		req.Host = "web.test"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- fmt.Sprintf("%d %s", res.StatusCode, b)
	}()
	<-arrived
	if _, err := c.SetRoute(ctx, drivers.Route{App: "demo/web", Hosts: []string{"web.test"}, Targets: []string{next.Listener.Addr().String()}}); err != nil {
		t.Fatal(err)
	}
	return old, release, slow
}

func TestClientSessionIsOneExec(t *testing.T) {
	_, socket := startProxy(t)
	e := &execer{socket: socket}
	c := client.New(e)
	ctx := context.Background()
	for i := range 10 {
		if err := c.Save(ctx, machine.Record{Project: "demo", App: fmt.Sprint("app", i), State: machine.Idle}); err != nil {
			t.Fatal(err)
		}
	}
	if recs, err := c.Records(ctx); err != nil || len(recs) != 10 {
		t.Fatalf("records = %d, %v", len(recs), err)
	}
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 1 || o != 0 {
		t.Fatalf("11 calls took %d session(s) and %d one-shot exec(s), want 1 and 0", s, o)
	}
	s := e.current()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// Closing stdin ends the remote command cleanly.
	if err := s.Wait(); err != nil {
		t.Fatalf("session after Close: %v", err)
	}
	if _, err := c.Routes(ctx); err != nil {
		t.Fatal(err)
	}
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 1 || o != 1 {
		t.Fatalf("after Close: %d session(s), %d one-shot(s), want 1 and 1", s, o)
	}
}

func TestClientSessionIsConcurrent(t *testing.T) {
	httpAddr, socket := startProxy(t)
	e := &execer{socket: socket}
	c := client.New(e)
	ctx := context.Background()
	old, release, slow := draining(t, c, httpAddr)

	drainSent := e.sent("session", "drain")
	drained := make(chan error, 1)
	go func() {
		n, err := c.Drain(ctx, "demo/web", []string{old}, 10*time.Second)
		if err == nil && n != 0 {
			err = fmt.Errorf("drain left %d", n)
		}
		drained <- err
	}()
	<-drainSent // the drain is waiting in the proxy

	// While it waits, many calls run at once, each getting its own answer.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 50 {
		wg.Go(func() {
			app := fmt.Sprint("app", i)
			if err := c.Save(ctx, machine.Record{Project: "demo", App: app, Release: app}); err != nil {
				errs <- err
				return
			}
			r, err := c.Load(ctx, "demo", app)
			if err != nil || r.Release != app {
				errs <- fmt.Errorf("load %s = %+v, %v", app, r, err)
			}
			if _, err := c.Load(ctx, "demo", "none"+app); !errors.Is(err, drivers.ErrNotFound) {
				errs <- fmt.Errorf("load of a missing record: %v", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned before its request finished: %v", err)
	default:
	}
	close(release)
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if got := <-slow; got != "200 old" {
		t.Fatalf("in-flight request: %s", got)
	}
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 1 || o != 0 {
		t.Fatalf("%d session(s) and %d one-shot exec(s), want 1 and 0", s, o)
	}
}

func TestClientSessionHonoursContext(t *testing.T) {
	httpAddr, socket := startProxy(t)
	e := &execer{socket: socket}
	c := client.New(e)
	old, release, _ := draining(t, c, httpAddr)
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Drain(ctx, "demo/web", []string{old}, 10*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled drain: %v after %s", err, time.Since(start))
	}
	// The session goes on; the drain's late answer never reaches another call.
	if v, err := c.Ping(context.Background()); err != nil || v != proxy.Version {
		t.Fatalf("ping after a cancelled call = %q, %v", v, err)
	}
	if n, err := c.Drain(context.Background(), "demo/web", []string{old}, 10*time.Millisecond); err != nil || n != 1 {
		t.Fatalf("short drain = %d, %v", n, err)
	}
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 1 || o != 0 {
		t.Fatalf("%d session(s) and %d one-shot exec(s), want 1 and 0", s, o)
	}
}

func TestClientSessionBreaks(t *testing.T) {
	httpAddr, socket := startProxy(t)
	e := &execer{socket: socket}
	c := client.New(e)
	ctx := context.Background()
	old, release, _ := draining(t, c, httpAddr)

	// A drain in flight when the session breaks is run again by one-shot
	// exec, and answers once its request finishes.
	drainSent, drainAgain := e.sent("session", "drain"), e.sent("exec", "drain")
	drained := make(chan error, 1)
	go func() {
		n, err := c.Drain(ctx, "demo/web", []string{old}, 10*time.Second)
		if err == nil && n != 0 {
			err = fmt.Errorf("drain left %d", n)
		}
		drained <- err
	}()
	<-drainSent
	e.current().cut()
	<-drainAgain
	close(release)
	if err := <-drained; err != nil {
		t.Fatalf("drain across a broken session: %v", err)
	}
	// The next call opens a new session.
	if _, err := c.Routes(ctx); err != nil {
		t.Fatal(err)
	}
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 2 || o != 1 {
		t.Fatalf("%d session(s) and %d one-shot exec(s), want 2 and 1", s, o)
	}

	// A Save lost with its session is safe to repeat, and is.
	e.mu.Lock()
	e.breakOn = "save"
	e.mu.Unlock()
	if err := c.Save(ctx, machine.Record{Project: "demo", App: "web", Release: "r9"}); err != nil {
		t.Fatal(err)
	}
	if r, err := c.Load(ctx, "demo", "web"); err != nil || r.Release != "r9" {
		t.Fatalf("load after a lost save = %+v, %v", r, err)
	}
	// So is a Forget.
	e.mu.Lock()
	e.breakOn = "forget"
	e.mu.Unlock()
	if err := c.Forget(ctx, "demo", "web"); err != nil {
		t.Fatalf("forget across a broken session: %v", err)
	}
	if _, err := c.Load(ctx, "demo", "web"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("load after a lost forget: %v", err)
	}
	// A SetRoute may have been applied: its caller is told so, not given a
	// wrong "replaced" route by running it twice.
	e.mu.Lock()
	e.breakOn = "set_route"
	e.mu.Unlock()
	_, err := c.SetRoute(ctx, drivers.Route{App: "demo/api", Hosts: []string{"api.test"}, Targets: []string{old}})
	if !errors.Is(err, client.ErrSessionLost) || !strings.Contains(err.Error(), "may have been applied") {
		t.Fatalf("set_route on a broken session: %v", err)
	}
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 4 || o != 3 {
		t.Fatalf("%d session(s) and %d one-shot exec(s), want 4 and 3", s, o)
	}
}

func TestClientWithoutSessions(t *testing.T) {
	// A luma-proxy too old for --session: every call still works, by one
	// exec each, and the session is not tried again on every call.
	_, socket := startProxy(t)
	e := &execer{socket: socket, noSession: true}
	c := client.New(e)
	ctx := context.Background()
	for range 5 {
		if _, err := c.Routes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// One more exec: the first call's ping, naming the binary to relay
	// through (relay.go).
	if s, o := e.sessions.Load(), e.oneShots.Load(); s != 1 || o != 6 {
		t.Fatalf("%d session(s) and %d one-shot exec(s), want 1 and 6", s, o)
	}

	// Neither a missing proxy nor an unreachable one reads differently
	// through a session.
	_, err := client.New(&execer{missing: true}).Load(ctx, "demo", "web")
	if !errors.Is(err, client.ErrNotRunning) || errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("missing container: %v", err)
	}
	_, err = client.New(&execer{socket: socket + ".gone"}).Routes(ctx)
	if err == nil || !strings.Contains(err.Error(), "not answering") {
		t.Fatalf("unreachable proxy: %v", err)
	}
}

// A luma-proxy upgraded in place runs a binary on its state volume: the
// client relays through it, not through the image's older /luma, which
// would drop request fields it does not know. The first session (the
// image's) finishes the ping that named the binary and closes.
func TestClientRelaysThroughTheBinaryTheProxyRuns(t *testing.T) {
	const upgraded = "/var/lib/luma-proxy/bin/luma-9"
	_, socket := startProxyRunning(t, upgraded)
	e := &execer{socket: socket, upgraded: upgraded}
	c := client.New(e)
	defer c.Close()
	ctx := context.Background()
	for range 3 {
		if _, err := c.Routes(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.ran(); !slices.Equal(got, []string{"/luma", upgraded}) {
		t.Fatalf("ran %v, want the image's binary for the first ping, then %s", got, upgraded)
	}
}
