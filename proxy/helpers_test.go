package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// testProxy is a server on 127.0.0.1 with its admin socket in a temp dir.
type testProxy struct {
	*server
	addr      string // 127.0.0.1:port of the traffic listener
	httpsAddr string // of the HTTPS listener, when Options.HTTPSAddr was set
	socket    string
	stop      func() // cancels and waits for serve to return
}

func testOptions(t *testing.T) Options {
	t.Helper()
	return Options{
		HTTPAddr:        "127.0.0.1:0",
		StatePath:       filepath.Join(t.TempDir(), "state", "state.json"),
		SocketPath:      shortSocketPath(t),
		ShutdownTimeout: 5 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(newTestWriter(t), nil)),
	}
}

// shortSocketPath keeps under the ~108-byte limit of unix socket paths,
// which t.TempDir() under long test names can exceed.
func shortSocketPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "run", "admin.sock")
}

// testWriter logs to t until the test ends; hijacked connections may
// still log a moment after.
type testWriter struct {
	t    *testing.T
	done *atomic.Bool
}

func newTestWriter(t *testing.T) testWriter {
	w := testWriter{t: t, done: new(atomic.Bool)}
	t.Cleanup(func() { w.done.Store(true) })
	return w
}

func (w testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func startProxy(t *testing.T, opts Options) *testProxy {
	t.Helper()
	opts = opts.withDefaults()
	s := newServer(opts)
	restored := s.load()
	ln, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	var httpsLn net.Listener
	httpsAddr := ""
	if opts.HTTPSAddr != "" {
		if httpsLn, err = net.Listen("tcp", opts.HTTPSAddr); err != nil {
			t.Fatal(err)
		}
		httpsAddr = httpsLn.Addr().String()
	}
	admin, err := listenAdmin(opts.SocketPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln, httpsLn, admin, restored) }()
	var stopped atomic.Bool
	stop := func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	return &testProxy{server: s, addr: ln.Addr().String(), httpsAddr: httpsAddr, socket: opts.SocketPath, stop: stop}
}

// client sends every request to the proxy whatever the URL's host, so
// URLs carry the host to route by.
func (p *testProxy) client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", p.addr)
			},
			MaxIdleConnsPerHost: 64,
		},
		Timeout: 10 * time.Second,
	}
}

// get returns status and body of a GET through the proxy.
func (p *testProxy) get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := p.client().Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (p *testProxy) setRoute(t *testing.T, app string, hosts []string, targets ...string) drivers.Route {
	t.Helper()
	resp := p.handle(context.Background(), protocol.Request{
		Op:    protocol.OpSetRoute,
		Route: &drivers.Route{App: app, Hosts: hosts, Targets: targets},
	})
	if resp.Error != "" {
		t.Fatalf("set route %s: %s", app, resp.Error)
	}
	return *resp.Route
}

// backend is an httptest server that answers its name, and "ok" on /up.
func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// handlerBackend is an httptest server running h.
func handlerBackend(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// addr is a server's "127.0.0.1:port", usable as a target.
func addr(srv *httptest.Server) string { return srv.Listener.Addr().String() }

// deadAddr is an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
