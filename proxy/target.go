package proxy

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// targetOptions tune every upstream connection pool.
type targetOptions struct {
	IdleConnTimeout time.Duration
	UpstreamTimeout time.Duration
	Logger          *log.Logger
}

// Target is one upstream container ("name:port"): its own connection pool,
// the requests it has in flight, and whether it may get traffic.
type Target struct {
	addr      string
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	logger    *log.Logger

	inflight atomic.Int64
	healthy  atomic.Bool // false for a restored target until one probe passed
	removed  atomic.Bool // no longer in its app's target set

	mu   sync.Mutex
	zero chan struct{} // closed and replaced each time inflight drops to 0
}

func newTarget(addr string, opts targetOptions) *Target {
	t := &Target{addr: addr, logger: opts.Logger, zero: make(chan struct{})}
	t.transport = newTransport(opts)
	t.proxy = &httputil.ReverseProxy{
		Rewrite:        t.rewrite,
		Transport:      t.transport,
		ModifyResponse: t.modifyResponse,
		ErrorHandler:   t.handleError,
		ErrorLog:       opts.Logger,
		// 0 keeps copies buffered but ReverseProxy flushes at once for
		// text/event-stream and bodies of unknown length (streams).
		FlushInterval: 0,
	}
	t.healthy.Store(true)
	return t
}

// newTransport closes idle upstream connections before common app
// keep-alive timeouts (often 5s) do, so a request never races a close.
func newTransport(opts targetOptions) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       opts.IdleConnTimeout,
		ResponseHeaderTimeout: opts.UpstreamTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass Accept-Encoding and bodies through untouched
	}
}

// Addr is the target's "name:port".
func (t *Target) Addr() string { return t.addr }

// Inflight is the number of requests being served now.
func (t *Target) Inflight() int { return int(t.inflight.Load()) }

func (t *Target) begin() { t.inflight.Add(1) }

func (t *Target) end() {
	if t.inflight.Add(-1) != 0 {
		return
	}
	t.mu.Lock()
	close(t.zero)
	t.zero = make(chan struct{})
	t.mu.Unlock()
	if t.removed.Load() {
		// Nothing will use these connections again.
		t.transport.CloseIdleConnections()
	}
}

// waitIdle waits until no request is in flight, or ctx is done.
func (t *Target) waitIdle(ctx context.Context) bool {
	for {
		t.mu.Lock()
		ch := t.zero
		n := t.inflight.Load()
		t.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return t.inflight.Load() == 0
		}
	}
}

// close drops the target's idle connections; in-flight ones finish.
func (t *Target) close() { t.transport.CloseIdleConnections() }

// flightKey carries the *flight of a request through ReverseProxy.
type flightKey struct{}

// flight is one request on a target; release ends it exactly once, either
// when the handler returns or when the connection was upgraded.
type flight struct {
	t    *Target
	done atomic.Bool
}

func (f *flight) release() {
	if f.done.CompareAndSwap(false, true) {
		f.t.end()
	}
}

// serve proxies r to t. The caller has already counted the request in
// (begin) while choosing t, so a swap can never miss it.
func (t *Target) serve(w http.ResponseWriter, r *http.Request) {
	f := &flight{t: t}
	defer f.release()
	ctx := context.WithValue(r.Context(), flightKey{}, f)
	t.proxy.ServeHTTP(w, r.WithContext(ctx))
}

func (t *Target) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(&url.URL{Scheme: "http", Host: t.addr})
	pr.Out.Host = pr.In.Host // apps see the host the client asked for
	pr.SetXForwarded()
}

// modifyResponse stops counting a request once it became a WebSocket (or
// other upgraded) connection: such connections last as long as the client
// wants and must not hold a drain; they end when the old container stops.
func (t *Target) modifyResponse(res *http.Response) error {
	if res.StatusCode == http.StatusSwitchingProtocols {
		if f, ok := res.Request.Context().Value(flightKey{}).(*flight); ok {
			f.release()
		}
	}
	return nil
}

// handleError answers when the upstream could not give a response: 504 when
// it timed out or was removed from the route while serving (its container
// is being stopped), 502 otherwise. Never a reset connection.
func (t *Target) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away; nobody reads an answer
	}
	status := http.StatusBadGateway
	if isTimeout(err) || t.removed.Load() {
		status = http.StatusGatewayTimeout
	}
	t.logger.Printf("upstream %s: %s %s: %v (answered %d)", t.addr, r.Method, r.URL.Path, err, status)
	writeError(w, status)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError writes a short plain-text error page.
func writeError(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+"\n")
}
