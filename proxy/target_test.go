package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestForwardedHeaders(t *testing.T) {
	p := startProxy(t, testOptions(t))
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s xff=%s proto=%s xfh=%s", r.Host,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
	})
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(srv))
	req, _ := http.NewRequest("GET", "http://web.test:8080/", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // spoofed by the client
	req.Header.Set("X-Forwarded-Proto", "https")
	res, err := p.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	want := "host=web.test:8080 xff=127.0.0.1 proto=http xfh=web.test:8080"
	if string(b) != want {
		t.Fatalf("backend saw %q, want %q", b, want)
	}
}

func TestUnreachableUpstreamIs502(t *testing.T) {
	p := startProxy(t, testOptions(t))
	p.setRoute(t, "demo/web", []string{"web.test"}, deadAddr(t))
	if code, body := p.get(t, "http://web.test/"); code != 502 || body != "Bad Gateway\n" {
		t.Fatalf("got %d %q, want 502 Bad Gateway", code, body)
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	opts := testOptions(t)
	opts.UpstreamTimeout = 100 * time.Millisecond
	p := startProxy(t, opts)
	release := make(chan struct{})
	defer close(release)
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(srv))
	if code, body := p.get(t, "http://web.test/"); code != 504 || body != "Gateway Timeout\n" {
		t.Fatalf("got %d %q, want 504 Gateway Timeout", code, body)
	}
}

// killableBackend accepts connections, reads one request on each and hands
// the connection over, so a test can kill it mid-request like a container
// that dies.
func killableBackend(t *testing.T) (string, <-chan net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				conns <- c
			}
		}
	}()
	return ln.Addr().String(), conns
}

func TestUpstreamKilledAfterRemovalIs504(t *testing.T) {
	p := startProxy(t, testOptions(t))
	old, conns := killableBackend(t)
	p.setRoute(t, "demo/web", []string{"web.test"}, old)
	got := p.getAsync("http://web.test/slow")
	c := <-conns
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(backend(t, "green")))
	c.Close() // the old container is stopped with the request in flight
	if r := <-got; r != "504 Gateway Timeout\n" {
		t.Fatalf("got %q, want a 504 answer", r)
	}
}

func TestUpstreamKilledWhileActiveIs502(t *testing.T) {
	p := startProxy(t, testOptions(t))
	old, conns := killableBackend(t)
	p.setRoute(t, "demo/web", []string{"web.test"}, old)
	got := p.getAsync("http://web.test/")
	(<-conns).Close()
	if r := <-got; r != "502 Bad Gateway\n" {
		t.Fatalf("got %q, want a 502 answer", r)
	}
}

// Apps close idle keep-alive connections after a while (5s in many
// frameworks; shortened here). The proxy must drop its idle connections
// first: a request sent on a connection the app is closing fails, and a
// POST cannot be retried.
func TestKeepAliveNeverRacesBackendIdleClose(t *testing.T) {
	for _, tc := range []struct {
		name     string
		idle     time.Duration
		wantFail bool
	}{
		{"proxy closes first", 150 * time.Millisecond, false},
		{"app closes first", 2 * time.Second, true}, // shows the test can fail
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions(t)
			opts.IdleConnTimeout = tc.idle
			p := startProxy(t, opts)
			p.setRoute(t, "demo/web", []string{"web.test"}, closingApp(t, time.Hour, 300*time.Millisecond, ""))
			c := p.client()
			failures := 0
			// Pauses well inside and well past the app's idle timeout,
			// so timers running late on a busy machine change nothing.
			for _, pause := range []int{50, 120, 400, 60, 350, 130, 450, 20, 380, 100} {
				time.Sleep(time.Duration(pause) * time.Millisecond)
				res, err := c.Post("http://web.test/", "text/plain", strings.NewReader("x"))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failures++
				}
			}
			if (failures > 0) != tc.wantFail {
				t.Fatalf("%d of 10 requests failed", failures)
			}
		})
	}
}

func TestWebSocketPassesThrough(t *testing.T) {
	p := startProxy(t, testOptions(t))
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		for { // echo lines until the client hangs up
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			rw.WriteString("echo " + line)
			rw.Flush()
		}
	})
	p.setRoute(t, "demo/ws", []string{"ws.test"}, addr(srv))

	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "GET /socket HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	for _, msg := range []string{"hello", "world"} {
		fmt.Fprint(conn, msg+"\n")
		if got, err := br.ReadString('\n'); err != nil || got != "echo "+msg+"\n" {
			t.Fatalf("echo = %q, %v", got, err)
		}
	}
	// An open WebSocket does not hold up a drain: it ends when its
	// container stops, and clients reconnect.
	p.setRoute(t, "demo/ws", []string{"ws.test"}, addr(backend(t, "green")))
	if n, _ := p.router.Drain(context.Background(), "demo/ws", []string{addr(srv)}, time.Second); n != 0 {
		t.Fatalf("drain counted %d upgraded connection(s)", n)
	}
}

func TestStreamsAreFlushedAtOnce(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/octet-stream"} {
		t.Run(ct, func(t *testing.T) {
			p := startProxy(t, testOptions(t))
			next := make(chan struct{})
			srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				for i := range 3 {
					fmt.Fprintf(w, "data: %d\n\n", i)
					w.(http.Flusher).Flush()
					select {
					case <-next: // the client saw this chunk
					case <-time.After(5 * time.Second):
						return
					}
				}
			})
			p.setRoute(t, "demo/sse", []string{"sse.test"}, addr(srv))
			res, err := p.client().Get("http://sse.test/events")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil || line != fmt.Sprintf("data: %d\n", i) {
					t.Fatalf("chunk %d = %q, %v", i, line, err)
				}
				br.ReadString('\n')
				next <- struct{}{}
			}
		})
	}
}

func TestProbe(t *testing.T) {
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/up":
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		default:
			w.WriteHeader(500)
		}
	})
	ctx := context.Background()
	if p := Probe(ctx, addr(srv), "/up", time.Second); !p.Healthy() || p.Status != 200 {
		t.Errorf("/up: %+v", p)
	}
	if p := Probe(ctx, addr(srv), "", time.Second); !p.Healthy() {
		t.Errorf("default path: %+v", p)
	}
	if p := Probe(ctx, addr(srv), "/broken", time.Second); p.Healthy() || p.Status != 500 {
		t.Errorf("/broken: %+v", p)
	}
	if p := Probe(ctx, addr(srv), "/slow", 50*time.Millisecond); p.Status != 0 || !strings.Contains(p.Error, "no answer within 50ms") {
		t.Errorf("/slow: %+v", p)
	}
	if p := Probe(ctx, deadAddr(t), "/up", time.Second); p.Status != 0 || !strings.Contains(p.Error, "refused") {
		t.Errorf("dead target: %+v", p)
	}
	if p := Probe(ctx, "nonsense", "/up", time.Second); p.Error == "" {
		t.Errorf("bad target: %+v", p)
	}
}
