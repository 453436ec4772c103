package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// closingApp serves keep-alive connections like an app whose idle timeout
// is idle (Go's IdleTimeout, gunicorn's keepalive): it closes a connection
// that sat idle that long. A request that arrives in the last stretch
// before that (from raceFrom on) meets the close on its way and gets no
// answer: the race a proxy loses when it reuses a connection the app is
// about to close. With header set, every answer says "Keep-Alive: header".
func closingApp(t *testing.T, idle, raceFrom time.Duration, header string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	serve := func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		last := time.Now()
		for {
			c.SetReadDeadline(last.Add(idle))
			if _, err := br.Peek(1); err != nil {
				return // idle too long (or the proxy closed): close
			}
			if time.Since(last) >= raceFrom {
				return // the request crossed our close
			}
			c.SetReadDeadline(time.Time{})
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			ka := ""
			if header != "" {
				ka = "Keep-Alive: " + header + "\r\n"
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\n%sContent-Length: 2\r\n\r\nok", ka)
			last = time.Now()
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// A POST cannot be retried once any of it reached the app, so the proxy
// must never send one on a connection the app is closing: it learns the
// app's idle timeout from the app's own closes, from a Keep-Alive header,
// or from the app's upstream_idle_timeout, and then opens a fresh
// connection instead. The last case shows the test can fail.
func TestPOSTNeverMeetsAppIdleClose(t *testing.T) {
	// The app closes after 1 s idle and loses requests that arrive in its
	// last 100 ms: pauses from 910 ms on land there (late timers only push
	// them further, until 1 s), and every reuse limit the proxy can have
	// here (0.6 s: an idle close seen late still reads as 1 s) is below
	// 910 ms by 310 ms, room for the proxy reading a response late on a
	// loaded machine (it counts idle time from that read).
	const idle, raceFrom = time.Second, 900 * time.Millisecond
	var pauses []time.Duration
	for ms := 910; ms <= 980; ms += 10 {
		pauses = append(pauses, time.Duration(ms)*time.Millisecond)
	}
	for _, tc := range []struct {
		name       string
		header     string
		configured time.Duration
		warmUp     bool // let the app close one idle connection first
		wantFail   bool
	}{
		{name: "learned from the app's closes", warmUp: true},
		{name: "Keep-Alive header", header: "timeout=1, max=100"},
		{name: "upstream_idle_timeout", configured: 600 * time.Millisecond},
		{name: "nothing known"}, // the pool keeps idle connections 500 ms
		{name: "told too long", configured: 4 * time.Second, wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startProxy(t, testOptions(t))
			resp := p.handle(t.Context(), protocol.Request{Op: protocol.OpSetRoute, Route: &drivers.Route{
				App: "demo/web", Hosts: []string{"web.test"}, UpstreamIdleTimeout: tc.configured,
				Targets: []string{closingApp(t, idle, raceFrom, tc.header)},
			}})
			if resp.Error != "" {
				t.Fatal(resp.Error)
			}
			c := p.client()
			sent := 0
			send := func() int {
				// 8 KiB, and 1 MiB: far more than the replayable prefix
				// (a retry happens before any byte left).
				size := []int{8 << 10, 1 << 20}[sent%2]
				sent++
				res, err := c.Post("http://web.test/", "text/plain", strings.NewReader(strings.Repeat("x", size)))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res.StatusCode
			}
			if code := send(); code != 200 {
				t.Fatalf("first request: %d", code)
			}
			if tc.warmUp {
				time.Sleep(idle + 300*time.Millisecond)
				if code := send(); code != 200 {
					t.Fatalf("after the app's close: %d", code)
				}
			}
			failed := 0
			for _, pause := range pauses {
				time.Sleep(pause)
				if send() != 200 {
					failed++
				}
			}
			if (failed > 0) != tc.wantFail {
				t.Fatalf("%d of %d POSTs after pauses of %v failed", failed, len(pauses), pauses)
			}
		})
	}
}

func TestKeepAliveTimeoutHeader(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"timeout=5, max=1000", 5 * time.Second, true},
		{"max=10,timeout=2", 2 * time.Second, true},
		{"Timeout = 1", time.Second, true},
		{"timeout=0.5", 500 * time.Millisecond, true},
		{"max=3", 0, false},
		{"timeout=soon", 0, false},
	} {
		got, ok := keepAliveTimeout(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("keepAliveTimeout(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for d, want := range map[time.Duration]time.Duration{
		time.Second:            600 * time.Millisecond,
		2 * time.Second:        1500 * time.Millisecond,
		500 * time.Millisecond: 100 * time.Millisecond,
		200 * time.Millisecond: time.Nanosecond, // never reuse
	} {
		if got := reuseLimit(d); got != want {
			t.Errorf("reuseLimit(%v) = %v, want %v", d, got, want)
		}
	}
}

// A close noticed late reads long; from a second on it counts as the whole
// seconds it started in, and the shortest close seen wins.
func TestLearnedIdleClose(t *testing.T) {
	tg := newTarget("127.0.0.1:1", targetOptions{IdleConnTimeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		seen time.Duration
		want time.Duration
	}{
		{100 * time.Millisecond, 0},                        // not a keep-alive timeout
		{2300 * time.Millisecond, 1500 * time.Millisecond}, // 2 s
		{1300 * time.Millisecond, 600 * time.Millisecond},  // 1 s, shorter: wins
		{1900 * time.Millisecond, 600 * time.Millisecond},  // longer: ignored
	} {
		tg.learnIdleClose(tc.seen)
		if got := tg.learnedLimit(); got != tc.want {
			t.Errorf("after a close at %v: limit %v, want %v", tc.seen, got, tc.want)
		}
	}
}
