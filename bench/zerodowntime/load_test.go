package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// app answers like examples/hello; broken corrupts what the test asks.
func app(t *testing.T, broken string) *httptest.Server {
	mux := http.NewServeMux()
	var mu sync.Mutex
	chunked := map[bool]int{}
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		chunked[r.ContentLength == -1]++
		mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		switch broken {
		case "flip":
			b[len(b)/2] ^= 1
		case "short":
			b = b[:len(b)-1]
		}
		w.Write(b)
	})
	mux.HandleFunc("GET /bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		if broken == "short" {
			b = b[:n-1]
		}
		w.Write(b)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "slept") })
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for n := 1; n <= streamEvents+5; n++ {
			if broken == "stream" && n == 4 {
				return // the stream ends early
			}
			fmt.Fprintf(w, "data: blue v1 %d\n\n", n)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for n := 1; ; n++ {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if broken == "websocket" && n == 4 {
				c.Close(websocket.StatusGoingAway, "")
				return
			}
			c.Write(context.Background(), typ, fmt.Appendf(nil, "blue v1 %s", msg))
		}
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		if broken == "status" {
			w.WriteHeader(502)
		}
		io.WriteString(w, "hello from v1 (blue)\n")
	})
	s := httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		if broken == "" && (chunked[true] == 0 || chunked[false] == 0) {
			t.Errorf("echo bodies: %d chunked, %d sized; want both", chunked[true], chunked[false])
		}
	})
	return s
}

func runMix(t *testing.T, broken string) summary {
	m, err := parseMix("all", 0.02)
	if err != nil {
		t.Fatal(err)
	}
	s := app(t, broken)
	l := newLoad(s.URL, "zdt.test", 100, m, 1)
	for i := range 2 * len(m.cycle) {
		l.send(m.at(i), time.Now())
	}
	l.wg.Wait()
	l.bursts(context.Background(), 2, 8, 0)
	return summarize(l.take(), nil)
}

func TestMixChecksEveryAnswer(t *testing.T) {
	ok := runMix(t, "")
	if ok.Failed != 0 {
		t.Fatalf("healthy app: %d failed: %v", ok.Failed, ok.Failures)
	}
	for k := range specs {
		if ok.Kinds[k] == nil || ok.Kinds[k].Sent == 0 {
			t.Errorf("mix all sent no %s", k)
		}
	}
	for broken, want := range map[string]string{
		"flip":      "post-64k-chunked: echo mismatch",
		"short":     "download-256k: truncated body",
		"status":    "get: status 502",
		"stream":    "stream-sse: stream ended after 3 of 10 events",
		"websocket": "websocket: websocket cut after 3 of 10 answers (closed 1001)",
	} {
		s := runMix(t, broken)
		if s.Failures[want] == 0 {
			t.Errorf("app %s: failures %v, want %q", broken, s.Failures, want)
		}
	}
}

func TestParseMix(t *testing.T) {
	m, err := parseMix("post-8k,post-64k-chunked", 0.5)
	if err != nil {
		t.Fatal(err)
	}
	got := map[kind]int{}
	for _, k := range m.cycle {
		got[k]++
	}
	if fmt.Sprint(got) != "map[post-64k-chunked:4 post-8k-chunked:6 post-8k-sized:6]" || m.slowEvery != 0 {
		t.Errorf("cycle %v, slowEvery %d", got, m.slowEvery)
	}
	if _, err := parseMix("post-3k", 0); err == nil || !strings.Contains(err.Error(), "post-3k") {
		t.Errorf("unknown group: %v", err)
	}
}

func TestShapes(t *testing.T) {
	logs := `2026-12-07T10:00:00.1Z luma-proxy: 2026/12/07 10:00:00 httputil: ReverseProxy read error during body copy: read tcp 172.18.0.2:41234->172.18.0.3:3000: use of closed network connection
2026-12-07T10:00:01.1Z luma-proxy: 2026/12/07 10:00:01 httputil: ReverseProxy read error during body copy: read tcp 172.18.0.2:41300->172.18.0.4:3000: use of closed network connection
2026-12-07T10:00:02.1Z luma-proxy: 2026/12/07 10:00:02 route swapped
`
	s := shapes(logs)
	if len(s) != 1 || s[0].Count != 2 || s[0].Shape != "luma-proxy: httputil: ReverseProxy read error during body copy: read tcp ADDR->ADDR: use of closed network connection" {
		t.Errorf("shapes: %+v", s)
	}
}
