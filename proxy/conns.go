package proxy

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// connTracker knows the client connections that are open and not
// hijacked (WebSockets), so a stopping proxy can wait for HTTP/1
// keep-alive connections to go before it closes the idle ones.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	gone  chan struct{} // signalled when a connection goes
}

// track sees only a connection's start and end: the transitions between
// active and idle, one per request, take no lock.
func (ct *connTracker) track(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		ct.mu.Lock()
		if ct.conns == nil {
			ct.conns, ct.gone = map[net.Conn]struct{}{}, make(chan struct{}, 1)
		}
		ct.conns[c] = struct{}{}
		ct.mu.Unlock()
	case http.StateClosed, http.StateHijacked:
		ct.mu.Lock()
		delete(ct.conns, c)
		select {
		case ct.gone <- struct{}{}:
		default:
		}
		ct.mu.Unlock()
	}
}

// http1 counts the open HTTP/1 connections (HTTP/2 ones move on GOAWAY,
// which the server's shutdown sends).
func (ct *connTracker) http1() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	n := 0
	for c := range ct.conns {
		if tc, ok := c.(*tls.Conn); ok && tc.ConnectionState().NegotiatedProtocol == "h2" {
			continue
		}
		n++
	}
	return n
}

// waitIdleGone waits until no HTTP/1 connection is open, or grace.
func (ct *connTracker) waitIdleGone(grace time.Duration) {
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond) // a connection may turn to h2 unseen
	defer tick.Stop()
	for ct.http1() > 0 {
		ct.mu.Lock()
		gone := ct.gone
		ct.mu.Unlock()
		select {
		case <-gone:
		case <-tick.C:
		case <-deadline.C:
			return
		}
	}
}
