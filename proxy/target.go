package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// targetOptions tune every upstream connection pool.
type targetOptions struct {
	IdleConnTimeout time.Duration
	UpstreamTimeout time.Duration
	Logger          *slog.Logger
	App             string // the app the targets serve, for log lines
}

// Target is one upstream container ("name:port"): its own connection pool,
// the requests it has in flight, and whether it may get traffic.
type Target struct {
	addr      string
	transport *http.Transport
	proxy     *httputil.ReverseProxy
	logger    *slog.Logger

	inflight atomic.Int64
	healthy  atomic.Bool  // false for a restored target until one probe passed
	removed  atomic.Bool  // no longer in its app's target set
	learned  atomic.Int64 // shortest idle time after which the app closed a connection (ns)

	mu   sync.Mutex
	zero chan struct{} // closed and replaced each time inflight drops to 0
}

func newTarget(addr string, opts targetOptions) *Target {
	t := &Target{addr: addr, logger: opts.Logger.With("app", opts.App, "target", addr), zero: make(chan struct{})}
	t.transport = newTransport(opts, t.dialUpstream(&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}))
	t.proxy = &httputil.ReverseProxy{
		Rewrite:        t.rewrite,
		Transport:      roundTripFunc(t.roundTrip),
		ModifyResponse: t.modifyResponse,
		ErrorHandler:   t.handleError,
		// Errors after the answer started (a cut body) land here.
		ErrorLog: slog.NewLogLogger(t.logger.Handler(), slog.LevelError),
		// 0 keeps copies buffered but ReverseProxy flushes at once for
		// text/event-stream and bodies of unknown length (streams).
		FlushInterval: 0,
	}
	t.healthy.Store(true)
	return t
}

// newTransport closes idle upstream connections before common app
// keep-alive timeouts (often 5s) do, so a request never races a close.
func newTransport(opts targetOptions, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		DialContext:           dial,
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

// learnIdleClose notes that the app closed a connection that sat idle for
// idle: its keep-alive timeout, unless too short to be one or the target is
// being stopped. A close is noticed late on a busy machine, so idle reads
// long; keep-alive timeouts are set in whole seconds, so from a second on
// it is rounded down to one: a shorter reuse limit costs a fresh
// connection now and then, a longer one a failed request.
func (t *Target) learnIdleClose(idle time.Duration) {
	if idle < minLearnedIdle || t.removed.Load() {
		return
	}
	if idle >= time.Second {
		idle = idle.Truncate(time.Second)
	}
	for {
		cur := t.learned.Load()
		if cur != 0 && cur <= int64(idle) {
			return
		}
		if t.learned.CompareAndSwap(cur, int64(idle)) {
			return
		}
	}
}

// learnedLimit is how long an idle connection may be reused given what the
// app showed of its keep-alive timeout (0: nothing learned).
func (t *Target) learnedLimit() time.Duration {
	if n := t.learned.Load(); n > 0 {
		return reuseLimit(time.Duration(n))
	}
	return 0
}

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
// when the handler returns or when the connection became a stream that
// must not hold a drain.
type flight struct {
	t     *Target
	idle  time.Duration // the app's upstream_idle_timeout, 0 for none
	limit int64         // the app's max_body_size, 0 for none
	conn  *upstreamConn // the connection the request was last given
	start time.Time
	done  atomic.Bool
}

func (f *flight) release() {
	if f.done.CompareAndSwap(false, true) {
		f.t.end()
	}
}

// elapsed is how long the request has run (0 for none).
func (f *flight) elapsed() time.Duration {
	if f == nil {
		return 0
	}
	return time.Since(f.start)
}

// gotConn runs when the transport hands the request a connection (again
// on each retry), before anything is written on it.
func (f *flight) gotConn(info httptrace.GotConnInfo) {
	if c, ok := info.Conn.(*upstreamConn); ok {
		c.claim(info, f.idle)
		f.conn = c
	}
}

// serve proxies r to t for svc. The caller has already counted the request
// in (begin) while choosing t, so a swap can never miss it.
func (t *Target) serve(w http.ResponseWriter, r *http.Request, svc *Service) {
	f := &flight{t: t, idle: svc.idleTimeout, limit: svc.maxBodySize, start: time.Now()}
	defer f.release()
	if f.limit > 0 && r.ContentLength > f.limit {
		writeTooLarge(w, f.limit)
		return
	}
	if r.ProtoMajor == 1 {
		// Let the app answer before it has read the whole body, as
		// HTTP/1 allows: without this the server discards the rest of
		// the body once the answer starts, and the transport, still
		// sending it, tears the answer down (golang/go#40747).
		http.NewResponseController(w).EnableFullDuplex()
	}
	ctx := httptrace.WithClientTrace(context.WithValue(r.Context(), flightKey{}, f), &httptrace.ClientTrace{GotConn: f.gotConn})
	out := r.WithContext(ctx)
	if r.ContentLength != 0 {
		body := newReplayBody(r.Body, f.limit)
		defer func() {
			// Stop the transport reading the body (it may still, when
			// the app answered early), then close it here: in full
			// duplex a body first closed after the handler returned
			// crashes the server's next read (golang/go#68560).
			body.release()
			r.Body.Close()
		}()
		out.Body, out.GetBody = body, body.GetBody
	}
	t.proxy.ServeHTTP(w, out)
}

// roundTrip sends a request on the target's pool and notes how long the
// app keeps the connection open when idle ("Keep-Alive: timeout=N"), a
// header ReverseProxy removes before any other hook sees it.
//
// A request of which not one byte reached the app is sent again on another
// connection, whatever its method: Go's transport does that only on a
// connection that served before, but a fresh one can fail too (closed on
// our side before its first write).
func (t *Target) roundTrip(req *http.Request) (*http.Response, error) {
	f, _ := req.Context().Value(flightKey{}).(*flight)
	for attempt := 1; ; attempt++ {
		if f != nil {
			f.conn = nil // set again by gotConn: this attempt's connection
		}
		res, err := t.transport.RoundTrip(req)
		if err == nil {
			if ka := res.Header.Get("Keep-Alive"); ka != "" && f != nil && f.conn != nil {
				f.conn.setKeepAlive(ka)
			}
			return res, nil
		}
		again, rerr := t.resend(req, f, attempt)
		if rerr != nil {
			return nil, err
		}
		t.logger.Warn("sending again: nothing of the request reached the app", "method", req.Method, "path", req.URL.Path, "attempt", attempt, "err", err)
		req = again
	}
}

// maxResends bounds resend: a target whose connections keep failing
// before the first byte gets a 502 after that many tries.
const maxResends = 3

// resend is req ready to be sent again, with its body from the start,
// when nothing of it reached the app; else an error.
func (t *Target) resend(req *http.Request, f *flight, attempt int) (*http.Request, error) {
	switch {
	case attempt > maxResends, f == nil, f.conn == nil, !f.conn.nothingSent(), req.Context().Err() != nil:
		return nil, errNoReplay
	case req.Body == nil || req.Body == http.NoBody:
		return req, nil
	case req.GetBody == nil:
		return nil, errNoReplay
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	again := req.Clone(req.Context())
	again.Body = body
	return again, nil
}

func (t *Target) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(&url.URL{Scheme: "http", Host: t.addr})
	pr.Out.Host = pr.In.Host // apps see the host the client asked for
	pr.SetXForwarded()
}

// modifyResponse stops counting a request once it became a WebSocket (or
// other upgraded) connection or an event stream: those last as long as the
// client wants and must not hold a drain; they end when the old container
// stops (a WebSocket then with a 1001 close frame, see wsUpstream).
func (t *Target) modifyResponse(res *http.Response) error {
	f, _ := res.Request.Context().Value(flightKey{}).(*flight)
	switch {
	case res.StatusCode == http.StatusSwitchingProtocols:
		if rwc, ok := res.Body.(io.ReadWriteCloser); ok && strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
			res.Body = newWSUpstream(rwc)
		}
	case isEventStream(res.Header.Get("Content-Type")):
	default:
		return nil
	}
	if f != nil {
		f.release()
	}
	return nil
}

func isEventStream(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "text/event-stream"
}

// handleError answers when the upstream could not give a response: 504 when
// it timed out or was removed from the route while serving (its container
// is being stopped), 502 otherwise. Never a reset connection.
func (t *Target) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away; nobody reads an answer
	}
	if f, ok := r.Context().Value(flightKey{}).(*flight); ok && errors.Is(err, errBodyTooLarge) {
		t.logger.Warn("request body too large", "method", r.Method, "path", r.URL.Path, "status", http.StatusRequestEntityTooLarge, "limit", f.limit)
		writeTooLarge(w, f.limit)
		return
	}
	status := http.StatusBadGateway
	if isTimeout(err) || t.removed.Load() {
		status = http.StatusGatewayTimeout
	}
	f, _ := r.Context().Value(flightKey{}).(*flight)
	t.logger.Error("upstream error", "method", r.Method, "path", r.URL.Path, "status", status,
		"duration", f.elapsed(), "err", err)
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

// writeTooLarge answers 413 for a body larger than the app accepts.
func writeTooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Connection", "close") // the rest of the body is not read
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	fmt.Fprintf(w, "luma-proxy: the request body is larger than this app accepts (max_body_size %s)\n", formatSize(limit))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// formatSize writes a byte count the way max_body_size is written.
func formatSize(n int64) string {
	for _, u := range []struct {
		unit string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
