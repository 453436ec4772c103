package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// kind is one kind of request in the traffic mix.
type kind string

const (
	keepAlive kind = "keepalive-get"
	fresh     kind = "fresh-conn-get"
	post      kind = "post-body"
	slow      kind = "slow-get"
)

// sample is the outcome of one request. Latency is measured from the time
// the request was due, not sent, so a stalled sender shows up as latency
// (no coordinated omission).
type sample struct {
	kind    kind
	due     time.Time
	latency time.Duration
	status  int
	failure string // "" on success
	version string
}

// load sends requests at a constant rate, each in its own goroutine, so a
// slow response never delays the next request.
type load struct {
	url       string
	host      string
	rate      int
	slowShare float64
	slowMS    int
	keep      *http.Client
	fresh     *http.Client

	mu      sync.Mutex
	samples []sample
	wg      sync.WaitGroup
}

func newLoad(url, host string, rate int, slowShare float64, slowMS int) *load {
	keepT := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	freshT := &http.Transport{DisableKeepAlives: true}
	return &load{
		url: url, host: host, rate: rate, slowShare: slowShare, slowMS: slowMS,
		keep:  &http.Client{Transport: keepT, Timeout: 60 * time.Second},
		fresh: &http.Client{Transport: freshT, Timeout: 60 * time.Second},
	}
}

// run sends until ctx is done, then waits for every request to finish.
// A rate of 0 sends nothing, to time deploys alone.
func (l *load) run(ctx context.Context) {
	if l.rate <= 0 {
		<-ctx.Done()
		return
	}
	interval := time.Second / time.Duration(l.rate)
	start := time.Now()
	slowEvery := 0
	if l.slowShare > 0 {
		slowEvery = int(1 / l.slowShare)
	}
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				l.wg.Wait()
				return
			case <-time.After(d):
			}
		} else if ctx.Err() != nil {
			l.wg.Wait()
			return
		}
		k := mix(i, slowEvery)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.record(l.do(k, due))
		}()
	}
}

// mix picks the request kind: half keep-alive GETs, a fifth fresh
// connections, the rest POSTs, and one in slowEvery a slow request.
func mix(i, slowEvery int) kind {
	if slowEvery > 0 && i%slowEvery == slowEvery/2 {
		return slow
	}
	switch i % 10 {
	case 0, 1:
		return fresh
	case 2, 3, 4:
		return post
	}
	return keepAlive
}

func (l *load) do(k kind, due time.Time) sample {
	s := sample{kind: k, due: due}
	var req *http.Request
	client := l.keep
	switch k {
	case post:
		body := strings.Repeat("luma", 256)
		req, _ = http.NewRequest("POST", l.url+"/echo", strings.NewReader(body))
	case slow:
		req, _ = http.NewRequest("GET", fmt.Sprintf("%s/slow?ms=%d", l.url, l.slowMS), nil)
	case fresh:
		client = l.fresh
		req, _ = http.NewRequest("GET", l.url+"/", nil)
	default:
		req, _ = http.NewRequest("GET", l.url+"/", nil)
	}
	req.Host = l.host
	resp, err := client.Do(req)
	if err != nil {
		s.latency = time.Since(due)
		s.failure = classify(err)
		return s
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.latency = time.Since(due)
	s.status = resp.StatusCode
	s.version = versionOf(b)
	switch {
	case err != nil:
		s.failure = "body: " + classify(err)
	case resp.StatusCode != 200:
		s.failure = fmt.Sprintf("status %d", resp.StatusCode)
	case k == post && len(b) != 1024:
		s.failure = fmt.Sprintf("post echo %d bytes", len(b))
	}
	return s
}

// classify names a transport error by kind.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed (EOF)"
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "error: " + err.Error()
}

func (l *load) record(s sample) {
	l.mu.Lock()
	l.samples = append(l.samples, s)
	l.mu.Unlock()
}

func (l *load) take() []sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.samples
	l.samples = nil
	return s
}

// versionOf reads "hello from v1 (blue)" answers of the example app.
func versionOf(body []byte) string {
	f := strings.Fields(string(body))
	if len(f) >= 3 && f[0] == "hello" && f[1] == "from" {
		return f[2]
	}
	return ""
}
