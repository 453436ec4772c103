package proxy

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// requestGauge counts the requests in flight that began before a stop and
// those that began after, so a proxy stopping for good can keep serving
// until the first are done.
type requestGauge struct {
	before, after atomic.Int64
}

// begin counts a request in; the func returned counts it out. WebSockets
// and event streams are not counted: like a deploy's drain, a stop does
// not wait for them (they end with the process).
func (g *requestGauge) begin(r *http.Request, afterStop bool) func() {
	if r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return func() {}
	}
	n := &g.before
	if afterStop {
		n = &g.after
	}
	n.Add(1)
	return func() { n.Add(-1) }
}

func (g *requestGauge) waitBefore(ctx context.Context) { waitZero(ctx, &g.before) }
func (g *requestGauge) waitAfter(ctx context.Context)  { waitZero(ctx, &g.after) }

// waitZero polls: a stop happens once, and 10 ms is well below what a
// client notices.
func waitZero(ctx context.Context, n *atomic.Int64) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for n.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
