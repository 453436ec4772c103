package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
	url    string
	host   string
	rate   int
	mix    mix
	slowMS int
	keep   *http.Client
	fresh  *http.Client

	mu      sync.Mutex
	samples []sample
	wg      sync.WaitGroup
	seq     uint64 // seeds each request's random body
}

func newLoad(url, host string, rate int, m mix, slowMS int) *load {
	// Idle client connections close well before luma-proxy's own idle
	// timeout (75s), so the client side never races the proxy's close.
	keepT := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	freshT := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	return &load{
		url: url, host: host, rate: rate, mix: m, slowMS: slowMS,
		keep:  &http.Client{Transport: keepT, Timeout: 60 * time.Second},
		fresh: &http.Client{Transport: freshT, Timeout: 60 * time.Second},
	}
}

// useTLS sends over HTTPS: HTTP/2 on the reused connections, as browsers
// do, HTTP/1.1 on the fresh ones.
func (l *load) useTLS(c *tls.Config) {
	keep := l.keep.Transport.(*http.Transport)
	keep.TLSClientConfig, keep.ForceAttemptHTTP2 = c.Clone(), true
	fresh := l.fresh.Transport.(*http.Transport)
	fresh.TLSClientConfig = c.Clone()
}

// run sends until ctx is done, then waits for every request to finish.
// A rate of 0 sends nothing, to time deploys alone.
func (l *load) run(ctx context.Context) {
	if l.rate <= 0 || len(l.mix.cycle) == 0 {
		<-ctx.Done()
		return
	}
	interval := time.Second / time.Duration(l.rate)
	start := time.Now()
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
		l.send(l.mix.at(i), due)
	}
}

// bursts sends n bursts of size requests at once, each burst after the
// previous one has finished and the connections stayed idle for about
// gap: the upstream pool's connections then reach the app's keep-alive
// timeout just as the next burst wants them, the moment a proxy that
// reuses a connection the app is closing loses a request. The gap sweeps
// a few milliseconds around the given one, because a connection's idle
// time starts when the app wrote its last response, a little before the
// client sees it.
func (l *load) bursts(ctx context.Context, n, size int, gap time.Duration) {
	offsets := []time.Duration{-10, -8, -6, -4, -2, 0, 2}
	k := 0
	for b := 0; b < n && ctx.Err() == nil; b++ {
		due := time.Now()
		for j := 0; j < size; j++ {
			l.send(l.mix.burstAt(k), due)
			k++
		}
		l.wg.Wait()
		if b < n-1 {
			select {
			case <-ctx.Done():
			case <-time.After(gap + offsets[b%len(offsets)]*time.Millisecond):
			}
		}
	}
}

func (l *load) send(k kind, due time.Time) {
	l.mu.Lock()
	l.seq++
	seed := l.seq
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.record(l.do(k, due, seed))
	}()
}

// body is size random bytes, different for every request, so an echo
// that mixes up two requests or shifts bytes cannot pass.
func body(size int, seed uint64) []byte {
	var s [32]byte
	s[0], s[1], s[2], s[3] = byte(seed), byte(seed>>8), byte(seed>>16), byte(seed>>24)
	s[4], s[5], s[6], s[7] = byte(seed>>32), byte(seed>>40), byte(seed>>48), byte(seed>>56)
	b := make([]byte, size)
	rand.NewChaCha8(s).Read(b)
	return b
}

// unsized hides a reader's length from net/http, so the request goes out
// chunked, with no Content-Length.
type unsized struct{ io.Reader }

func (l *load) do(k kind, due time.Time, seed uint64) sample {
	s := sample{kind: k, due: due}
	if k == ws {
		return l.doWebSocket(s, seed)
	}
	spec := specs[k]
	var req *http.Request
	var sent []byte
	client := l.keep
	switch {
	case spec.body > 0:
		sent = body(spec.body, seed)
		var r io.Reader = bytes.NewReader(sent)
		if spec.chunked {
			r = unsized{r}
		}
		req, _ = http.NewRequest("POST", l.url+"/echo", r)
		req.Header.Set("Content-Type", "application/octet-stream")
	case k == slow:
		req, _ = http.NewRequest("GET", fmt.Sprintf("%s/slow?ms=%d", l.url, l.slowMS), nil)
	case k == download:
		req, _ = http.NewRequest("GET", fmt.Sprintf("%s/bytes?n=%d", l.url, downloadSize), nil)
	case k == stream:
		req, _ = http.NewRequest("GET", l.url+"/events?interval="+streamInterval, nil)
	default:
		req, _ = http.NewRequest("GET", l.url+"/", nil)
	}
	if spec.fresh {
		client = l.fresh
	}
	req.Host = l.host
	resp, err := client.Do(req)
	if err != nil {
		s.latency = time.Since(due)
		s.failure = classify(err)
		return s
	}
	if k == stream && resp.StatusCode == 200 {
		s.failure = readStream(resp.Body)
		resp.Body.Close()
		s.latency, s.status = time.Since(due), resp.StatusCode
		return s
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	s.latency = time.Since(due)
	s.status = resp.StatusCode
	switch {
	case resp.StatusCode != 200:
		s.failure = fmt.Sprintf("status %d", resp.StatusCode)
	case err != nil:
		s.failure = "truncated body (" + classify(err) + ")"
	case sent != nil:
		s.failure = compare(b, sent)
	case k == download:
		s.failure = checkDownload(b)
	case k == getKeep || k == getFresh:
		s.version = versionOf(b)
	}
	return s
}

// compare checks an echo byte for byte.
func compare(got, want []byte) string {
	switch {
	case len(got) < len(want) && bytes.Equal(got, want[:len(got)]):
		return "truncated body"
	case !bytes.Equal(got, want):
		return "echo mismatch"
	}
	return ""
}

// readStream reads an event stream of examples/hello ("data: COLOR
// VERSION N") to its streamEvents-th event, which must come numbered from
// 1 by one app, then closes it: a stream cut or mixed up by a switch fails.
func readStream(body io.Reader) string {
	sc := bufio.NewScanner(body)
	n, from := 0, ""
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != strconv.Itoa(n+1) {
			return "stream out of order"
		}
		if app := f[0] + " " + f[1]; from == "" {
			from = app
		} else if app != from {
			return "stream from two apps"
		}
		if n++; n == streamEvents {
			return ""
		}
	}
	if err := sc.Err(); err != nil {
		return "stream cut (" + classify(err) + ")"
	}
	return fmt.Sprintf("stream ended after %d of %d events", n, streamEvents)
}

// checkDownload checks /bytes?n=N: N bytes, byte i = 'a'+i%26.
func checkDownload(b []byte) string {
	if len(b) < downloadSize {
		return "truncated body"
	}
	if len(b) > downloadSize {
		return "body too long"
	}
	for i, c := range b {
		if c != byte('a'+i%26) {
			return "body mismatch"
		}
	}
	return ""
}

// classify names a transport error by kind.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
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
