package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// echoBackend answers every request with its whole body.
func echoBackend(t *testing.T) string {
	return addr(handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Write(b)
	}))
}

// onlyLength hides a reader's length, so the client sends it chunked.
type onlyLength struct{ io.Reader }

func post(t *testing.T, c *http.Client, url string, body []byte, chunked bool) (int, []byte, error) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = onlyLength{r}
	}
	req, _ := http.NewRequest("POST", url, r)
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	return res.StatusCode, got, err
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Bodies of every size users send, with a length and chunked, come back
// byte for byte.
func TestBodiesOfEverySizeAreEchoed(t *testing.T) {
	p := startProxy(t, testOptions(t))
	p.setRoute(t, "demo/echo", []string{"echo.test"}, echoBackend(t))
	c := p.client()
	c.Timeout = 60 * time.Second
	for _, size := range []int{0, 1, 1 << 10, 8 << 10, 64<<10 - 1, 64 << 10, 64<<10 + 1, 1 << 20, 24 << 20} {
		for _, chunked := range []bool{false, true} {
			body := randomBytes(size)
			code, got, err := post(t, c, "http://echo.test/echo", body, chunked)
			if err != nil || code != 200 || !bytes.Equal(got, body) {
				t.Fatalf("size %d chunked %v: %d, %d bytes back (equal %v), %v", size, chunked, code, len(got), bytes.Equal(got, body), err)
			}
		}
	}
}

// An app may answer before it read the whole request (HTTP/1 allows it: a
// 401 to an upload, or a response streamed while the body arrives). The
// answer must reach the client whole: without full duplex the proxy's
// server discards the rest of the body as soon as the answer starts, and
// the transport, still sending it, tears the answer down (golang/go#40747).
func TestEarlyAnswerWhileBodyIsSentIsWhole(t *testing.T) {
	p := startProxy(t, testOptions(t))
	answer := bytes.Repeat([]byte("luma"), 64<<10) // 256 KiB
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadFull(r.Body, make([]byte, 1024))
		w.Header().Set("Content-Length", fmt.Sprint(len(answer)))
		w.Write(answer[:len(answer)/2])
		w.(http.Flusher).Flush()
		io.Copy(io.Discard, r.Body)
		w.Write(answer[len(answer)/2:])
	})
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(srv))
	c := p.client()
	for i := range 20 {
		code, got, err := post(t, c, "http://web.test/upload", randomBytes(512<<10), i%2 == 1)
		if err != nil || code != 200 || !bytes.Equal(got, answer) {
			t.Fatalf("request %d: %d, %d of %d bytes, %v", i, code, len(got), len(answer), err)
		}
	}
}

// With full duplex on, an upstream that fails before it read the body must
// not crash the proxy's server when the client's connection is reused
// (golang/go#68560), and both requests get a 502.
func TestFailedUpstreamWithUnreadBodyKeepsConnection(t *testing.T) {
	p := startProxy(t, testOptions(t))
	p.setRoute(t, "demo/web", []string{"web.test"}, deadAddr(t))
	killer, conns := killableBackend(t)
	p.setRoute(t, "demo/kill", []string{"kill.test"}, killer)
	go func() {
		for c := range conns {
			c.Close() // read the headers, then die
		}
	}()
	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	for i, host := range []string{"web.test", "web.test", "kill.test", "web.test", "kill.test"} {
		body := strings.Repeat("x", 8<<10)
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s", host, len(body), body)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, host, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 502 {
			t.Fatalf("request %d to %s: %d, want 502", i, host, res.StatusCode)
		}
		if res.Close {
			// The proxy may close after a failed upload; then reconnect.
			conn.Close()
			if conn, err = net.Dial("tcp", p.addr); err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			br = bufio.NewReader(conn)
		}
	}
}

func TestMaxBodySizeAnswers413(t *testing.T) {
	p := startProxy(t, testOptions(t))
	resp := p.handle(t.Context(), protocol.Request{Op: protocol.OpSetRoute, Route: &drivers.Route{
		App: "demo/echo", Hosts: []string{"echo.test"}, Targets: []string{echoBackend(t)}, MaxBodySize: 64 << 10,
	}})
	if resp.Error != "" {
		t.Fatal(resp.Error)
	}
	if resp.Route == nil {
		t.Fatal("no route")
	}
	routes := p.router.Routes()
	if len(routes) != 1 || routes[0].MaxBodySize != 64<<10 {
		t.Fatalf("routes: %+v", routes)
	}
	c := p.client()
	for _, tc := range []struct {
		size    int
		chunked bool
		want    int
	}{
		{64 << 10, false, 200},
		{64 << 10, true, 200},
		{64<<10 + 1, false, 413},
		{64<<10 + 1, true, 413},
		{4 << 20, true, 413},
	} {
		body := randomBytes(tc.size)
		code, got, err := post(t, c, "http://echo.test/", body, tc.chunked)
		if err != nil {
			t.Fatalf("%d bytes chunked %v: %v", tc.size, tc.chunked, err)
		}
		if code != tc.want {
			t.Fatalf("%d bytes chunked %v: %d, want %d", tc.size, tc.chunked, code, tc.want)
		}
		if code == 413 && !strings.Contains(string(got), "max_body_size 64 KiB") {
			t.Fatalf("413 body %q does not say the limit", got)
		}
		if code == 200 && !bytes.Equal(got, body) {
			t.Fatalf("%d bytes chunked %v: echo differs", tc.size, tc.chunked)
		}
	}
}

// Many uploads at once, while the route is swapped between two targets.
func TestConcurrentUploadsAcrossSwaps(t *testing.T) {
	p := startProxy(t, testOptions(t))
	a, b := echoBackend(t), echoBackend(t)
	p.setRoute(t, "demo/echo", []string{"echo.test"}, a)
	c := p.client()
	stop := make(chan struct{})
	var swaps sync.WaitGroup
	swaps.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			p.setRoute(t, "demo/echo", []string{"echo.test"}, []string{a, b}[i%2])
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				size := []int{1 << 10, 8 << 10, 64 << 10, 200 << 10}[(w+i)%4]
				body := randomBytes(size)
				code, got, err := post(t, c, "http://echo.test/", body, i%3 == 0)
				if err != nil || code != 200 || !bytes.Equal(got, body) {
					errs <- fmt.Errorf("worker %d request %d (%d bytes): %d, %d bytes back, %v", w, i, size, code, len(got), err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	swaps.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A request that fails before a single byte of it reached the app is sent
// again, whatever its method and even on a fresh connection (here one
// closed on the proxy's side before its first write, as seen once under
// deploys). One that reached the app is never sent twice.
func TestNothingSentIsSentAgain(t *testing.T) {
	p := startProxy(t, testOptions(t))
	var hits atomic.Int32
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	p.setRoute(t, "demo/echo", []string{"echo.test"}, addr(srv))
	target := p.router.services["demo/echo"].lb.targets[0]
	var dials atomic.Int32
	dial := target.transport.DialContext
	target.transport.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		c, err := dial(ctx, network, a)
		if err == nil && dials.Add(1) == 1 {
			c.(*upstreamConn).Conn.Close() // our side, before any write
		}
		return c, err
	}
	body := randomBytes(1 << 10)
	code, got, err := post(t, p.client(), "http://echo.test/", body, false)
	if err != nil || code != 200 || !bytes.Equal(got, body) {
		t.Fatalf("POST: %d, %d bytes back, %v", code, len(got), err)
	}
	if dials.Load() != 2 || hits.Load() != 1 {
		t.Fatalf("%d dials, %d requests reached the app; want 2 and 1", dials.Load(), hits.Load())
	}
}
