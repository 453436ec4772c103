package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// Probe requests http://target+path once with a fresh connection, so the
// answer says whether the target can serve now, not whether an old pooled
// connection still works.
func Probe(ctx context.Context, target, path string, timeout time.Duration) drivers.Probe {
	if err := checkTarget(target); err != nil {
		return drivers.Probe{Error: err.Error()}
	}
	if path == "" {
		path = DefaultHealthPath
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+target+path, nil)
	if err != nil {
		return drivers.Probe{Error: err.Error()}
	}
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := tr.RoundTrip(req)
	if err != nil {
		if ctx.Err() != nil {
			return drivers.Probe{Error: "no answer within " + timeout.String()}
		}
		return drivers.Probe{Error: err.Error()}
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	return drivers.Probe{Status: res.StatusCode}
}

// healthWatcher probes restored targets until each passes once, and then
// lets them take traffic. It stops for targets that leave their route.
type healthWatcher struct {
	logger   *slog.Logger
	interval time.Duration
	timeout  time.Duration
	wg       sync.WaitGroup
}

func (h *healthWatcher) watch(ctx context.Context, svc *Service) {
	for _, t := range svc.lb.targets {
		h.wg.Go(func() { h.watchTarget(ctx, t, svc.probePath()) })
	}
}

func (h *healthWatcher) watchTarget(ctx context.Context, t *Target, path string) {
	failed := false
	for !t.healthy.Load() && !t.removed.Load() {
		p := Probe(ctx, t.addr, path, h.timeout)
		if p.Healthy() {
			t.healthy.Store(true)
			h.logger.Info("restored target passed its health check", "target", t.addr)
			return
		}
		if !failed {
			failed = true
			h.logger.Warn("restored target not healthy yet, probing again", "target", t.addr, "probe", describe(p))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(h.interval):
		}
	}
}

// wait returns once every watch ended (after ctx is done at the latest).
func (h *healthWatcher) wait() { h.wg.Wait() }

func describe(p drivers.Probe) string {
	if p.Error != "" {
		return p.Error
	}
	return http.StatusText(p.Status)
}
