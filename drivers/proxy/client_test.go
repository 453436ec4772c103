package proxy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	client "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// execer plays docker exec: it runs `luma proxy admin` in-process, against
// a proxy listening on socket, as the container would. Its ExecStream runs
// `luma proxy admin --session` the same way, over pipes (session_test.go).
type execer struct {
	socket    string
	missing   bool // the container does not exist
	stopped   bool // the container exists but is stopped
	noSession bool // luma-proxy is too old for --session

	oneShots, sessions atomic.Int32
	// upgraded is the binary of an upgrade in place on the state volume,
	// which exists in the container besides the image's /luma.
	upgraded string
	mu       sync.Mutex
	binaries []string // run, in order
	breakOn  string   // cut the session instead of sending this op
	cur      *pipeSession
	waiting  map[string]chan struct{} // see sent
}

func (e *execer) used(bin string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.binaries = append(e.binaries, bin)
}

func (e *execer) knows(bin string) bool { return bin == "/luma" || (bin != "" && bin == e.upgraded) }

func (e *execer) ran() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.binaries)
}

// sent returns a channel closed once a request of op has been handed to
// luma-proxy: through a session when via is "session", by a one-shot exec
// when via is "exec".
func (e *execer) sent(via, op string) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.waiting == nil {
		e.waiting = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	e.waiting[via+" "+op] = ch
	return ch
}

// handed closes the channels of those waiting for the request in p.
func (e *execer) handed(via string, p []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for key, ch := range e.waiting {
		w, op, _ := strings.Cut(key, " ")
		if w == via && bytes.Contains(p, []byte(`"op":"`+op+`"`)) {
			close(ch)
			delete(e.waiting, key)
		}
	}
}

func (e *execer) Exec(ctx context.Context, container string, cmd []string, stdin []byte) ([]byte, error) {
	e.oneShots.Add(1)
	if e.missing || container != client.ContainerName {
		return nil, fmt.Errorf("exec %s in %s: %w", cmd[0], container, drivers.ErrNotFound)
	}
	if e.stopped {
		return nil, fmt.Errorf("exec %s in %s: %w (container is not running)", cmd[0], container, drivers.ErrConflict)
	}
	e.used(cmd[0])
	if !slices.Equal(cmd[1:], []string{"proxy", "admin"}) || !e.knows(cmd[0]) {
		return nil, fmt.Errorf("unexpected command %q", cmd)
	}
	e.handed("exec", stdin)
	var out bytes.Buffer
	if err := proxy.Admin(ctx, e.socket, bytes.NewReader(stdin), &out); err != nil {
		return out.Bytes(), fmt.Errorf("exec %s in %s: exit code 1: %v", cmd[0], container, err)
	}
	return out.Bytes(), nil
}

// startProxy runs proxy.Run on a free port and a temp socket; it returns
// the traffic address and the socket.
func startProxy(t *testing.T) (string, string) {
	t.Helper()
	return startProxyRunning(t, "/luma")
}

// startProxyRunning starts a proxy that says it runs binary: "/luma" as
// in a container never upgraded, another path after an upgrade in place.
func startProxyRunning(t *testing.T, binary string) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "lpc")
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "admin.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- proxy.Run(ctx, proxy.Options{
			HTTPAddr:   httpAddr,
			StatePath:  filepath.Join(t.TempDir(), "state.json"),
			SocketPath: socket,
			Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Binary:     binary,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := proxy.Call(context.Background(), socket, protocol.Request{Op: protocol.OpPing}); err == nil {
			return httpAddr, socket
		}
		if time.Now().After(deadline) {
			t.Fatal("proxy did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, proxyAddr, host string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+proxyAddr+"/", nil)
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return fmt.Sprintf("%d %s", res.StatusCode, b)
}

func TestClientRouter(t *testing.T) {
	httpAddr, socket := startProxy(t)
	c := client.New(&execer{socket: socket})
	ctx := context.Background()
	var _ drivers.Proxy = c

	if v, err := c.Ping(ctx); err != nil || v != proxy.Version {
		t.Fatalf("ping = %q, %v", v, err)
	}
	blue := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "blue") }))
	defer blue.Close()
	green := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "green") }))
	defer green.Close()
	b, g := blue.Listener.Addr().String(), green.Listener.Addr().String()

	p, err := c.Probe(ctx, g, "/up", time.Second)
	if err != nil || !p.Healthy() {
		t.Fatalf("probe = %+v, %v", p, err)
	}
	if p, err := c.Probe(ctx, "127.0.0.1:1", "/up", time.Second); err != nil || p.Healthy() || p.Error == "" {
		t.Fatalf("probe of a dead target = %+v, %v", p, err)
	}
	prev, err := c.SetRoute(ctx, drivers.Route{App: "demo/web", Hosts: []string{"web.test"}, Targets: []string{b}, HealthPath: "/up"})
	if err != nil || len(prev.Targets) != 0 {
		t.Fatalf("first route: %+v, %v", prev, err)
	}
	if got := get(t, httpAddr, "web.test"); got != "200 blue" {
		t.Fatalf("before switch: %s", got)
	}
	prev, err = c.SetRoute(ctx, drivers.Route{App: "demo/web", Hosts: []string{"web.test"}, Targets: []string{g}, HealthPath: "/up"})
	if err != nil || !slices.Equal(prev.Targets, []string{b}) {
		t.Fatalf("switch replaced %+v, %v", prev, err)
	}
	if got := get(t, httpAddr, "web.test"); got != "200 green" {
		t.Fatalf("after switch: %s", got)
	}
	if n, err := c.Drain(ctx, "demo/web", prev.Targets, time.Second); n != 0 || err != nil {
		t.Fatalf("drain = %d, %v", n, err)
	}
	routes, err := c.Routes(ctx)
	if err != nil || len(routes) != 1 || !slices.Equal(routes[0].Targets, []string{g}) || routes[0].HealthPath != "/up" {
		t.Fatalf("routes = %+v, %v", routes, err)
	}
	if _, err := c.SetRoute(ctx, drivers.Route{App: "demo/api", Hosts: []string{"web.test"}, Targets: []string{g}}); err == nil || !strings.Contains(err.Error(), "demo/web") {
		t.Fatalf("host clash: %v", err)
	}
	if err := c.RemoveRoute(ctx, "demo/web"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, httpAddr, "web.test"); !strings.HasPrefix(got, "404") {
		t.Fatalf("after remove: %s", got)
	}
}

func TestClientStore(t *testing.T) {
	_, socket := startProxy(t)
	c := client.New(&execer{socket: socket})
	ctx := context.Background()

	if took, err := c.Lock(ctx, "demo/web", "alice@laptop 42", time.Minute); took || err != nil {
		t.Fatalf("lock = %v, %v", took, err)
	}
	rec := machine.Record{Project: "demo", App: "web", Server: "s1", State: machine.Switching, Release: "r2",
		Timings: map[machine.State]time.Duration{machine.Creating: 250 * time.Millisecond}}
	if err := c.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	_, err := c.Lock(ctx, "demo/web", "bob@desk 7", time.Minute)
	var locked *drivers.LockedError
	if !errors.As(err, &locked) || locked.Lock.Holder != "alice@laptop 42" || locked.Lock.State != machine.Switching || locked.Lock.Since.IsZero() {
		t.Fatalf("contended lock: %v", err)
	}
	if err := c.Renew(ctx, "demo/web", "bob@desk 7", time.Minute); !errors.As(err, &locked) {
		t.Fatalf("renew by non-holder: %v", err)
	}
	if err := c.Renew(ctx, "demo/web", "alice@laptop 42", time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := c.Load(ctx, "demo", "web")
	if err != nil || got.Release != "r2" || got.Timings[machine.Creating] != 250*time.Millisecond {
		t.Fatalf("load = %+v, %v", got, err)
	}
	if _, err := c.Load(ctx, "demo", "none"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("load of missing record: %v", err)
	}
	if recs, err := c.Records(ctx); err != nil || len(recs) != 1 {
		t.Fatalf("records = %+v, %v", recs, err)
	}
	if locks, err := c.Locks(ctx); err != nil || len(locks) != 1 || locks[0].State != machine.Switching {
		t.Fatalf("locks = %+v, %v", locks, err)
	}
	if err := c.Forget(ctx, "demo", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, "demo", "web"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("load of a forgotten record: %v", err)
	}
	if err := c.Forget(ctx, "demo", "web"); err != nil {
		t.Fatalf("forget again: %v", err)
	}
	if err := c.Unlock(ctx, "demo/web", "alice@laptop 42"); err != nil {
		t.Fatal(err)
	}
	if took, err := c.Lock(ctx, "demo/web", "bob@desk 7", time.Minute); took || err != nil {
		t.Fatalf("lock after unlock = %v, %v", took, err)
	}
}

func TestClientSaysWhenProxyIsMissing(t *testing.T) {
	c := client.New(&execer{missing: true})
	_, err := c.Load(context.Background(), "demo", "web")
	if !errors.Is(err, client.ErrNotRunning) || !strings.Contains(err.Error(), `run "luma setup"`) {
		t.Fatalf("err = %v", err)
	}
	// A missing proxy must not read as a missing record.
	if errors.Is(err, drivers.ErrNotFound) {
		t.Fatal("missing container reported as drivers.ErrNotFound")
	}
	_, err = client.New(&execer{stopped: true}).Routes(context.Background())
	if !errors.Is(err, client.ErrNotRunning) || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("stopped container: %v", err)
	}
}

func TestClientSaysWhenProxyDoesNotAnswer(t *testing.T) {
	c := client.New(&execer{socket: filepath.Join(t.TempDir(), "gone.sock")})
	_, err := c.Routes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "did not answer") || !strings.Contains(err.Error(), "not answering") {
		t.Fatalf("err = %v", err)
	}
}
