package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestStreamsAcrossDeploy opens a WebSocket and a Server-Sent Events stream
// through luma-proxy to v1 and deploys v2 while both are in use. Clients
// must see: every WebSocket message answered by the old color until the
// old app says goodbye with close code 1001; the event stream delivering
// the old color's events in order through the switch and then ending
// cleanly; new streams and requests reaching v2. It checks what clients
// see, not how long the drain takes.
func TestStreamsAcrossDeploy(t *testing.T) {
	const project, name, host = "e2estreams", "streams", "streams.test"
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	dir := t.TempDir()
	removeProject(t, project)
	// STOP_DELAY: the old app serves on for 2s after SIGTERM, as one closing
	// its pools would, so its streams surely outlive the switch, which
	// comes before the stop.
	write := func(image string) {
		yml := fmt.Sprintf(`name: %s
proxy:
  http_port: %d
apps:
  %s:
    image: %s
    servers: ["localhost"]
    replicas: 1
    environment:
      plain: ["STOP_DELAY=2s"]
    proxy:
      hosts: [%q]
      app_port: 3000
    health_check:
      start_period: 2s
      interval: 500ms
      timeout: 2s
      retries: 2
    drain_timeout: 5s
    stop_timeout: 15s
`, project, proxyPort, name, image, host)
		if err := os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(v1)
	mustLuma(t, dir, "setup")
	mustLuma(t, dir, "deploy", "--release", "r1")
	old := version(t, host)
	if old["version"] != "v1" {
		t.Fatalf("after deploying v1, /version = %v", old)
	}
	oldPrefix := old["color"] + " v1"

	// Everything below is bounded by ctx: a hang fails the test.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ws := dialWS(t, ctx, host)
	defer ws.CloseNow()
	if got := ask(ctx, ws, "m0"); got != oldPrefix+" m0" {
		t.Fatalf("first WebSocket answer = %q, want %q", got, oldPrefix+" m0")
	}
	events := openEvents(t, ctx, host)
	if ev, err := readEvent(events); err != nil || ev != oldPrefix+" 1" {
		t.Fatalf("first event = %q %v, want %q", ev, err, oldPrefix+" 1")
	}

	// Traffic across the deploy: a conversation on the WebSocket, the event
	// stream, and plain GETs that notice when traffic has switched.
	var switched atomic.Bool
	talked := make(chan talk, 1)
	go func() { talked <- converse(ctx, ws, oldPrefix, &switched) }()
	followed := make(chan stream, 1)
	go func() { followed <- follow(events, oldPrefix, &switched) }()
	deployed := make(chan struct{})
	polled := make(chan []string, 1)
	go func() { polled <- poll(ctx, host, deployed, &switched) }()

	write(v2)
	lumaWithin(t, 2*time.Minute, dir, "deploy", "--release", "r2")
	close(deployed)

	if failed := <-polled; len(failed) > 0 {
		t.Errorf("%d GET /version failed during the deploy: %v", len(failed), failed)
	}
	if !switched.Load() {
		t.Error("no GET during the deploy reached v2")
	}

	// The WebSocket: answered by the old color until it went away. In this
	// lock-step conversation at most the last message is unanswered: one
	// that crossed the old app's close frame (sent after it began going
	// away, so it was never read, RFC 6455 §5.5.1).
	tk := <-talked
	t.Logf("WebSocket: %d messages sent, %d answered, %d after the switch; ended with %v", tk.sent, tk.answered, tk.afterSwitch, tk.err)
	for _, w := range tk.wrong {
		t.Errorf("WebSocket answer not from the old color: %s", w)
	}
	if websocket.CloseStatus(tk.err) != websocket.StatusGoingAway {
		t.Errorf("WebSocket ended with %v, want a close frame with code 1001 (going away)", tk.err)
	}
	if tk.afterSwitch == 0 {
		t.Error("the old WebSocket answered nothing after the switch: it did not survive it")
	}

	// The event stream: the old color's events, none missing, through the
	// switch, then a clean end of stream (the last chunk, not a reset).
	st := <-followed
	t.Logf("events: %d received, %d after the switch; ended with %v", st.n, st.afterSwitch, st.err)
	for _, w := range st.wrong {
		t.Errorf("event stream: %s", w)
	}
	if st.err != io.EOF {
		t.Errorf("event stream ended with %v, want a clean end of stream (EOF)", st.err)
	}
	if st.afterSwitch == 0 {
		t.Error("the old event stream delivered nothing after the switch: it did not survive it")
	}

	// After the deploy everything new reaches v2.
	now := version(t, host)
	if now["version"] != "v2" || now["color"] == old["color"] {
		t.Fatalf("after deploying v2, /version = %v (v1 was %v)", now, old)
	}
	newPrefix := now["color"] + " v2"
	ws2 := dialWS(t, ctx, host)
	defer ws2.CloseNow()
	if got := ask(ctx, ws2, "hello"); got != newPrefix+" hello" {
		t.Errorf("new WebSocket answer = %q, want %q", got, newPrefix+" hello")
	}
	ws2.Close(websocket.StatusNormalClosure, "")
	ectx, ecancel := context.WithCancel(ctx)
	if ev, err := readEvent(openEvents(t, ectx, host)); err != nil || ev != newPrefix+" 1" {
		t.Errorf("new event stream's first event = %q %v, want %q", ev, err, newPrefix+" 1")
	}
	ecancel()

	mustLuma(t, dir, "remove", name)
}

// dialWS opens a WebSocket to /ws through luma-proxy on 127.0.0.1.
func dialWS(t *testing.T, ctx context.Context, host string) *websocket.Conn {
	t.Helper()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", proxyPort), &websocket.DialOptions{Host: host})
	if err != nil {
		t.Fatalf("WebSocket to %s through luma-proxy: %v", host, err)
	}
	return c
}

// ask sends msg and returns the answer, or the error as text.
func ask(ctx context.Context, c *websocket.Conn, msg string) string {
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		return "write: " + err.Error()
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		return "read: " + err.Error()
	}
	return string(b)
}

// openEvents opens /events (an event every 200ms) through luma-proxy; the
// stream lasts until ctx ends.
func openEvents(t *testing.T, ctx context.Context, host string) *bufio.Reader {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://127.0.0.1:%d/events?interval=200ms", proxyPort), nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req) // no client timeout: ctx bounds the stream
	if err != nil {
		t.Fatalf("GET /events on %s: %v", host, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /events on %s: %d, Content-Type %q", host, resp.StatusCode, ct)
	}
	return bufio.NewReader(resp.Body)
}

// readEvent reads one event and returns its data. A stream that ends
// between events returns io.EOF; one that ends inside an event does not.
func readEvent(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err == io.EOF && line != "" {
		return "", fmt.Errorf("stream ended inside an event: %q", line)
	}
	if err != nil {
		return "", err
	}
	data, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "data: ")
	if !ok {
		return "", fmt.Errorf("not an event's data line: %q", line)
	}
	if blank, err := r.ReadString('\n'); err != nil || blank != "\n" {
		return "", fmt.Errorf("event %q not ended by a blank line: %q, %v", data, blank, err)
	}
	return data, nil
}

// talk is how a WebSocket conversation went.
type talk struct {
	sent, answered, afterSwitch int
	wrong                       []string // answers other than the old color's to that message
	err                         error    // how it ended
}

// converse sends a message every 100ms and reads its answer before the
// next, until the connection ends.
func converse(ctx context.Context, c *websocket.Conn, prefix string, switched *atomic.Bool) talk {
	var tk talk
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 1; ; i++ {
		msg := fmt.Sprintf("m%d", i)
		if tk.err = c.Write(ctx, websocket.MessageText, []byte(msg)); tk.err != nil {
			return tk
		}
		tk.sent++
		var b []byte
		if _, b, tk.err = c.Read(ctx); tk.err != nil {
			return tk
		}
		tk.answered++
		if want := prefix + " " + msg; string(b) != want {
			tk.wrong = append(tk.wrong, fmt.Sprintf("%q, want %q", b, want))
		}
		if switched.Load() {
			tk.afterSwitch++
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			tk.err = ctx.Err()
			return tk
		}
	}
}

// stream is how an event stream went.
type stream struct {
	n, afterSwitch int
	wrong          []string // events out of order or not from the old color
	err            error    // how it ended
}

// follow reads events until the stream ends; the first was read already.
func follow(r *bufio.Reader, prefix string, switched *atomic.Bool) stream {
	s := stream{n: 1}
	for {
		ev, err := readEvent(r)
		if err != nil {
			s.err = err
			return s
		}
		s.n++
		if want := fmt.Sprintf("%s %d", prefix, s.n); ev != want {
			s.wrong = append(s.wrong, fmt.Sprintf("event %q, want %q", ev, want))
		}
		if switched.Load() {
			s.afterSwitch++
		}
	}
}

// poll asks /version every 50ms until deployed is closed, sets switched
// once v2 answers, and returns the failed requests.
func poll(ctx context.Context, host string, deployed <-chan struct{}, switched *atomic.Bool) []string {
	var failed []string
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-deployed:
			return failed
		case <-ctx.Done():
			return append(failed, ctx.Err().Error())
		case <-tick.C:
		}
		code, body, err := testenv.Get(ctx, client, fmt.Sprintf("127.0.0.1:%d", proxyPort), host, "/version")
		var v map[string]string
		if err == nil && code == 200 {
			err = json.Unmarshal([]byte(body), &v)
		}
		if err != nil || code != 200 {
			failed = append(failed, fmt.Sprintf("%d %v %q", code, err, body))
			continue
		}
		if v["version"] == "v2" {
			switched.Store(true)
		}
	}
}

// lumaWithin runs the luma binary as mustLuma does, killed after d so that
// a hung deploy fails the test.
func lumaWithin(t *testing.T, d time.Duration, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, lumaBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	t.Logf("luma %s → %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	if err != nil {
		t.Fatalf("luma %v failed (or took over %s): %v", args, d, err)
	}
}
