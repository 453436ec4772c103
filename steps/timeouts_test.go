package steps

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// timeouts records the drain and stop timeouts a run asks for.
type timeouts struct {
	*recorder
	mu          sync.Mutex
	drain, stop []time.Duration
}

func (t *timeouts) Drain(ctx context.Context, app string, targets []string, timeout time.Duration) (int, error) {
	t.mu.Lock()
	t.drain = append(t.drain, timeout)
	t.mu.Unlock()
	return t.recorder.Drain(ctx, app, targets, timeout)
}

func (t *timeouts) Stop(ctx context.Context, name string, timeout time.Duration) error {
	t.mu.Lock()
	t.stop = append(t.stop, timeout)
	t.mu.Unlock()
	return t.recorder.Stop(ctx, name, timeout)
}

// drain_timeout: 0s and stop_timeout: 0s mean at once, as config keeps
// them: steps applies no default of its own over them.
func TestZeroDrainAndStopTimeouts(t *testing.T) {
	e := newEnv(t, 1)
	e.app.DrainTimeout, e.app.StopTimeout = 0, 0
	h := e.hosts[0]
	tm := &timeouts{recorder: e.proxies[0]}
	srv := []Server{{Name: h.Name(), Engine: tm, Proxy: tm, Source: e.source}}
	opts := Options{Holder: e.holder, Now: h.Clock().Now}
	for _, rel := range []string{"r1", "r2"} {
		if _, err := Deploy(bg, e.release(rel), srv, e.out, opts); err != nil {
			t.Fatalf("deploy %s: %v\n%s", rel, err, e.out.text())
		}
	}
	if len(tm.drain) == 0 || slices.ContainsFunc(tm.drain, func(d time.Duration) bool { return d != 0 }) {
		t.Errorf("drain timeouts %v, want 0", tm.drain)
	}
	if len(tm.stop) == 0 || slices.ContainsFunc(tm.stop, func(d time.Duration) bool { return d != 0 }) {
		t.Errorf("stop timeouts %v, want 0", tm.stop)
	}
	if spec, _, _ := h.Spec("shop-blog-green"); spec.StopTimeout != 0 {
		t.Errorf("shop-blog-green created with stop timeout %s, want 0", spec.StopTimeout)
	}
}

// An app missing what config always fills in is a caller's bug: steps
// says so rather than choosing a default of its own.
func TestAppWithoutConfigDefaultsRejected(t *testing.T) {
	for name, change := range map[string]func(*App){
		"replicas":      func(a *App) { a.Replicas = 0 },
		"health path":   func(a *App) { a.Health.Path = "" },
		"interval":      func(a *App) { a.Health.Interval = 0 },
		"probe timeout": func(a *App) { a.Health.Timeout = 0 },
		"retries":       func(a *App) { a.Health.Retries = 0 },
		"drain timeout": func(a *App) { a.DrainTimeout = -time.Second },
		"stop timeout":  func(a *App) { a.StopTimeout = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 1)
			change(&e.app)
			if _, err := e.deploy(bg, "r1"); err == nil {
				t.Fatal("deployed")
			}
			if e.hosts[0].Calls("Lock") != 0 {
				t.Fatal("touched the server")
			}
		})
	}
}
