package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errStaleConn refuses to start a request on a pooled connection that the
// app may be closing. It is returned from the connection's first Write of
// the request, before any byte reaches the app, so the transport retries
// the request on another connection (its "nothing written" rule), for any
// method, with the body replayed by GetBody.
var errStaleConn = errors.New("pooled upstream connection may be closing: not used")

// minLearnedIdle ignores closes that are not an app's keep-alive timeout:
// a "Connection: close" answer, or an app shutting down, closes at once.
const minLearnedIdle = 500 * time.Millisecond

// upstreamConn is one connection to an app as the transport's pool holds
// it. It knows when it last carried bytes, whether the app closed its side,
// and how long the app said it keeps idle connections (Keep-Alive:
// timeout=N), so a request never starts on a connection the app is about
// to close: with a body, such a request could not be retried.
type upstreamConn struct {
	net.Conn
	t *Target

	mu         sync.Mutex
	lastRead   time.Time
	lastWrite  time.Time
	keepAlive  time.Duration // reuse limit from the app's Keep-Alive header, 0 unknown
	starting   bool          // a request got this connection and wrote nothing yet
	limit      time.Duration // ... and may write only if it sat idle less than this (0: any)
	sent       int64         // bytes of the current request written to the app
	peerClosed bool          // the app closed its side (EOF or reset read)
}

// dialUpstream returns the transport's DialContext: plain TCP, each
// connection wrapped to guard its reuse.
func (t *Target) dialUpstream(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		now := time.Now()
		return &upstreamConn{Conn: c, t: t, lastRead: now, lastWrite: now}, nil
	}
}

// claim is called when a request got the connection (httptrace GotConn),
// with the app's configured reuse limit. The check itself waits for the
// request's first write, which may come much later when the client sends
// its body slowly.
func (c *upstreamConn) claim(info httptrace.GotConnInfo, limit time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starting, c.limit, c.sent = info.Reused, 0, 0
	if !info.Reused {
		return // a fresh connection is never refused
	}
	if ka := c.keepAlive; ka > 0 && (limit <= 0 || ka < limit) {
		limit = ka
	}
	if l := c.t.learnedLimit(); l > 0 && (limit <= 0 || l < limit) {
		limit = l
	}
	c.limit = limit
}

func (c *upstreamConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.starting {
		c.starting = false
		if c.peerClosed || c.limit > 0 && time.Since(c.lastActivity()) >= c.limit {
			c.mu.Unlock()
			c.Conn.Close()
			return 0, errStaleConn
		}
	}
	c.mu.Unlock()
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.mu.Lock()
		c.lastWrite = time.Now()
		c.sent += int64(n)
		c.mu.Unlock()
	}
	return n, err
}

// nothingSent tells whether not one byte of the current request reached
// the socket: the app cannot have seen any of it.
func (c *upstreamConn) nothingSent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent == 0
}

func (c *upstreamConn) lastActivity() time.Time {
	if c.lastWrite.After(c.lastRead) {
		return c.lastWrite
	}
	return c.lastRead
}

func (c *upstreamConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	now := time.Now()
	c.mu.Lock()
	if n > 0 {
		c.lastRead = now
	}
	if err != nil && n == 0 && !c.peerClosed && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		c.peerClosed = true
		// An app that closes a connection it had fully answered, after
		// it sat idle, shows its keep-alive timeout.
		if !c.lastRead.Before(c.lastWrite) {
			c.t.learnIdleClose(now.Sub(c.lastRead))
		}
	}
	c.mu.Unlock()
	return n, err
}

// setKeepAlive records the app's "Keep-Alive: timeout=N" for this
// connection.
func (c *upstreamConn) setKeepAlive(header string) {
	d, ok := keepAliveTimeout(header)
	if !ok {
		return
	}
	c.mu.Lock()
	c.keepAlive = reuseLimit(d)
	c.mu.Unlock()
}

// keepAliveTimeout parses the timeout parameter of a Keep-Alive header
// ("timeout=5, max=1000").
func keepAliveTimeout(header string) (time.Duration, bool) {
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "timeout") {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || n < 0 {
			return 0, false
		}
		return time.Duration(n * float64(time.Second)), true
	}
	return 0, false
}

// reuseLimit is how long an idle connection may be reused when the app
// closes idle connections after d: a quarter earlier, and at least 400 ms,
// since the app's clock started before ours (we count from reading its
// response, which a loaded machine does late: 100 ms of margin lost POSTs
// under .ci/run) and its timers may fire early relative to ours. A limit
// of 0 or less means "never reuse", so it is at least 1ns.
func reuseLimit(d time.Duration) time.Duration {
	margin := max(d/4, 400*time.Millisecond)
	return max(d-margin, time.Nanosecond)
}
