package proxy

import (
	"context"
	"sync"
	"time"
)

// acmeLoop obtains and renews the certificates of HTTPS hosts in the
// background: when a route needs one (kick), when one is a third of its
// lifetime from expiry, and after failures with a growing delay. A host
// that fails never holds up another host, another app or plain HTTP.
type acmeLoop struct {
	store  *certStore
	issuer *acmeIssuer
	// attempt bounds one order, from account to certificate.
	attempt time.Duration
	kickc   chan struct{}
}

func newACMELoop(store *certStore) *acmeLoop {
	return &acmeLoop{store: store, issuer: newACMEIssuer(store), attempt: 3 * time.Minute, kickc: make(chan struct{}, 1)}
}

// kick wakes the loop to look for work now.
func (l *acmeLoop) kick() {
	select {
	case l.kickc <- struct{}{}:
	default:
	}
}

// run works until ctx is done, then waits for orders in flight to stop.
func (l *acmeLoop) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, 4) // orders at once
	for {
		work, next := l.store.due()
		for _, hc := range work {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				l.work(ctx, hc)
				l.kick() // the next due time may have moved
			})
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(min(time.Until(next), time.Hour), time.Second)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-l.kickc:
		case <-t.C:
		}
		t.Stop()
	}
}

func (l *acmeLoop) work(ctx context.Context, hc *hostCert) {
	ctx, cancel := context.WithTimeout(ctx, l.attempt)
	defer cancel()
	renewing := hc.cert != nil
	l.store.logger.Info("obtaining a certificate", "host", hc.host, "app", hc.app, "directory", hc.acme.Directory, "renewal", renewing)
	start := time.Now()
	c, err := l.issuer.obtain(ctx, *hc.acme, hc.host)
	if ctx.Err() != nil && err != nil && c == nil {
		err = context.Cause(ctx)
	}
	l.store.done(hc, c, err)
	if err != nil {
		l.store.logger.Error("certificate not obtained", "host", hc.host, "app", hc.app, "directory", hc.acme.Directory,
			"err", err, "retry_in", retryDelay(hc.failures).String())
		return
	}
	l.store.logger.Info("certificate obtained", "host", hc.host, "app", hc.app, "issuer", issuerName(c.Leaf),
		"not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond).String())
}
