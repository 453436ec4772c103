package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestMain runs the app itself when a test starts this binary as one.
func TestMain(m *testing.M) {
	if os.Getenv("HELLO_TEST_RUN_APP") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// server serves the app's routes on 127.0.0.1 with its shutdown wiring.
func server(t *testing.T) (*httptest.Server, *streams) {
	t.Helper()
	t.Setenv("LUMA_COLOR", "blue")
	s := newStreams()
	srv := httptest.NewUnstartedServer(routes(time.Now(), 200, 0, s))
	srv.Config.RegisterOnShutdown(s.stop)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, s
}

func want(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func TestBytesSized(t *testing.T) {
	srv, _ := server(t)
	for _, n := range []int64{0, 1, 26, 27, 100_000, 1 << 20} {
		resp, err := http.Get(fmt.Sprintf("%s/bytes?n=%d", srv.URL, n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("n=%d: %d %v", n, resp.StatusCode, err)
		}
		if resp.ContentLength != n || len(resp.TransferEncoding) != 0 {
			t.Errorf("n=%d: Content-Length %d, Transfer-Encoding %v", n, resp.ContentLength, resp.TransferEncoding)
		}
		if !bytes.Equal(b, want(n)) {
			t.Errorf("n=%d: body differs from the pattern (%d bytes)", n, len(b))
		}
	}
}

// flushes counts the pieces a handler flushes.
type flushes struct {
	*httptest.ResponseRecorder
	n int
}

func (f *flushes) Flush() { f.n++; f.ResponseRecorder.Flush() }

func TestBytesChunked(t *testing.T) {
	srv, _ := server(t)
	for _, n := range []int64{0, 5, 100_000, 1 << 20} {
		resp, err := http.Get(fmt.Sprintf("%s/bytes?n=%d&chunked=1", srv.URL, n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("n=%d: %d %v", n, resp.StatusCode, err)
		}
		if n > 0 && (resp.ContentLength != -1 || fmt.Sprint(resp.TransferEncoding) != "[chunked]") {
			t.Errorf("n=%d: Content-Length %d, Transfer-Encoding %v, want chunked", n, resp.ContentLength, resp.TransferEncoding)
		}
		if !bytes.Equal(b, want(n)) {
			t.Errorf("n=%d: body differs from the pattern (%d bytes)", n, len(b))
		}
	}
	for n, pieces := range map[int64]int{5: 3, 100_000: 4, 1 << 20: 16} {
		w := &flushes{ResponseRecorder: httptest.NewRecorder()}
		bytesHandler(w, httptest.NewRequest("GET", fmt.Sprintf("/bytes?n=%d&chunked=1", n), nil))
		if w.n != pieces || !bytes.Equal(w.Body.Bytes(), want(n)) {
			t.Errorf("n=%d: %d flushed pieces, want %d; pattern ok: %v", n, w.n, pieces, bytes.Equal(w.Body.Bytes(), want(n)))
		}
	}
}

func TestBytesBadN(t *testing.T) {
	srv, _ := server(t)
	for _, q := range []string{"", "?n=x", "?n=-1"} {
		resp, err := http.Get(srv.URL + "/bytes" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("/bytes%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

// hideLen hides a reader's length so the client sends it chunked.
type hideLen struct{ io.Reader }

func TestEchoSizes(t *testing.T) {
	srv, _ := server(t)
	for _, n := range []int{0, 1 << 10, 8 << 10, 64 << 10, 1 << 20, 32 << 20} {
		body := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz!"), n/37+1)[:n]
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = hideLen{r}
			}
			resp, err := http.Post(srv.URL+"/echo", "application/octet-stream", r)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(b, body) {
				t.Fatalf("echo of %d bytes (chunked %v): %d %v, %d bytes back, equal %v", n, chunked, resp.StatusCode, err, len(b), bytes.Equal(b, body))
			}
			if resp.ContentLength != int64(n) {
				t.Errorf("echo of %d bytes (chunked %v): Content-Length %d", n, chunked, resp.ContentLength)
			}
		}
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// TestEchoMemory checks that echoing a body allocates about its size once,
// not the doubling io.ReadAll does while it grows.
func TestEchoMemory(t *testing.T) {
	const n = 32 << 20
	body := make([]byte, n)
	for _, size := range []int64{n, -1} {
		r := httptest.NewRequest("POST", "/echo", bytes.NewReader(body))
		r.ContentLength = size
		w := &discard{h: http.Header{}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		echo(w, r)
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > n+n/8 {
			t.Errorf("echo of %d MiB (Content-Length %d) allocated %.1f MiB", n>>20, size, float64(got)/(1<<20))
		}
		if w.h.Get("Content-Length") != fmt.Sprint(n) {
			t.Errorf("Content-Length %q", w.h.Get("Content-Length"))
		}
	}
}

func TestEchoTooLarge(t *testing.T) {
	r := httptest.NewRequest("POST", "/echo", strings.NewReader("x"))
	r.ContentLength = maxEcho + 1
	w := httptest.NewRecorder()
	echo(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("sized body over the bound: %d, want 413", w.Code)
	}
	r = httptest.NewRequest("POST", "/echo", io.LimitReader(zeros{}, maxEcho+1))
	r.ContentLength = -1
	w = httptest.NewRecorder()
	echo(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the bound: %d, want 413", w.Code)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// readEvent reads one event's data line.
func readEvent(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return line, err
	}
	if blank, err := r.ReadString('\n'); err != nil || blank != "\n" {
		return line, fmt.Errorf("event %q not followed by a blank line: %q %v", line, blank, err)
	}
	return strings.TrimSuffix(line, "\n"), nil
}

func TestEventsEndOnShutdown(t *testing.T) {
	srv, _ := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events?interval=10ms", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, ct)
	}
	r := bufio.NewReader(resp.Body)
	for i := 1; i <= 3; i++ {
		ev, err := readEvent(r)
		if w := fmt.Sprintf("data: blue %s %d", version, i); err != nil || ev != w {
			t.Fatalf("event %d = %q %v, want %q", i, ev, err, w)
		}
	}
	shut := make(chan error, 1)
	go func() { shut <- srv.Config.Shutdown(ctx) }()
	var err2 error
	for err2 == nil {
		_, err2 = readEvent(r)
	}
	if err2 != io.EOF {
		t.Errorf("stream ended with %v, want a clean end (EOF)", err2)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestEventsBadInterval(t *testing.T) {
	srv, _ := server(t)
	for _, q := range []string{"x", "0s", "-1s"} {
		resp, err := http.Get(srv.URL + "/events?interval=" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("interval=%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

func TestWebSocketCloseOnShutdown(t *testing.T) {
	srv, s := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, m := range []string{"hi", "two words", ""} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		typ, b, err := c.Read(ctx)
		if w := fmt.Sprintf("blue %s %s", version, m); err != nil || typ != websocket.MessageText || string(b) != w {
			t.Fatalf("answer to %q = %v %q %v, want %q", m, typ, b, err, w)
		}
	}
	if err := c.Write(ctx, websocket.MessageBinary, []byte{0, 1}); err != nil {
		t.Fatal(err)
	}
	if typ, b, err := c.Read(ctx); err != nil || typ != websocket.MessageBinary || string(b) != "blue "+version+" \x00\x01" {
		t.Fatalf("binary answer = %v %q %v", typ, b, err)
	}

	shut := make(chan error, 1)
	go func() {
		err := srv.Config.Shutdown(ctx)
		s.wait()
		shut <- err
	}()
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("read after shutdown began: %v, want close 1001", err)
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Shutdown and streams.wait did not return")
	}
}

// app runs this test binary as the app with env on a free port of
// 127.0.0.1 and returns its address once it serves.
func app(t *testing.T, env ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{"HELLO_TEST_RUN_APP=1", fmt.Sprintf("PORT=%d", port), "LUMA_COLOR=green"}, env...)...)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &http.Client{Timeout: time.Second}
	for i := 0; ; i++ {
		resp, err := c.Get("http://" + addr + "/up")
		if err == nil {
			resp.Body.Close()
			return cmd, addr, &logs
		}
		if i == 500 {
			t.Fatalf("app not serving on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the app's start, bounded
	}
}

// exitCode waits (bounded) for the app to exit.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatal("app did not exit")
		return -1
	}
}

// TestGracefulStop runs the app and stops it as Docker does: the event
// stream ends cleanly, the WebSocket gets 1001, the app exits 0.
func TestGracefulStop(t *testing.T) {
	cmd, addr, logs := app(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/events?interval=20ms", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	if ev, err := readEvent(events); err != nil || ev != "data: green dev 1" {
		t.Fatalf("first event %q %v", ev, err)
	}
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || string(b) != "green dev x" {
		t.Fatalf("answer %q %v", b, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("WebSocket after SIGTERM: %v, want close 1001", err)
	}
	for err = nil; err == nil; {
		_, err = readEvent(events)
	}
	if err != io.EOF {
		t.Errorf("event stream after SIGTERM ended with %v, want a clean end (EOF)", err)
	}
	if code := exitCode(t, cmd); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, logs)
	}
}

// TestSigtermExit: with SIGTERM=exit the app exits 2 at once, ending its
// streams without a goodbye.
func TestSigtermExit(t *testing.T) {
	cmd, addr, logs := app(t, "SIGTERM=exit")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, cmd); code != 2 {
		t.Errorf("exit %d, want 2\n%s", code, logs)
	}
	if _, _, err := c.Read(ctx); err == nil || websocket.CloseStatus(err) != -1 {
		t.Errorf("WebSocket after SIGTERM=exit: %v, want a connection closed without a close frame", err)
	}
}

// TestKeepAliveTimeout: the app closes an idle keep-alive connection once
// KEEPALIVE_TIMEOUT has passed.
func TestKeepAliveTimeout(t *testing.T) {
	_, addr, _ := app(t, "KEEPALIVE_TIMEOUT=200ms")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(conn, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the app closed the connection after one request")
	}
	// The app closes it when idle: the next read ends.
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("idle connection: read %d, %v, want EOF from the app closing it", n, err)
	}
}
