package fake

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// RouteChange is one SetRoute or RemoveRoute: from At (and Seq) on, the app
// was served by Targets (none after a RemoveRoute).
type RouteChange struct {
	Seq     int
	At      time.Time
	Targets []string
}

// Probe answers as the target container's Behavior says; a container that
// is missing or not running gives no response.
func (h *Host) Probe(ctx context.Context, target, path string, timeout time.Duration) (drivers.Probe, error) {
	if err := h.call(ctx, "Probe", target); err != nil {
		return drivers.Probe{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	name, _, _ := strings.Cut(target, ":")
	c, ok := h.containers[name]
	if !ok {
		return drivers.Probe{Error: "dial " + target + ": no such host"}, nil
	}
	if !c.Running() {
		return drivers.Probe{Error: "dial " + target + ": connection refused"}, nil
	}
	b := h.behavior(c)
	c.probes++
	if b.NeverHealthy || c.probes <= b.HealthyAfter {
		if b.FailStatus == 0 {
			return drivers.Probe{Error: fmt.Sprintf("GET %s: timeout after %s", path, timeout)}, nil
		}
		return drivers.Probe{Status: b.FailStatus}, nil
	}
	c.healthy++
	if b.CrashAfterHealthy > 0 && c.healthy >= b.CrashAfterHealthy {
		c.State, c.ExitCode = "exited", b.ExitCode
	}
	return drivers.Probe{Status: 200}, nil
}

// SetRoute replaces an app's route; targets it drops start draining.
func (h *Host) SetRoute(ctx context.Context, r drivers.Route) (drivers.Route, error) {
	if err := h.call(ctx, "SetRoute", r.App); err != nil {
		return drivers.Route{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	prev, had := h.routes[r.App]
	next := copyRoute(r)
	next.Draining = nil
	for _, t := range append(slices.Clone(prev.Targets), prev.Draining...) {
		if !slices.Contains(next.Targets, t) && !slices.Contains(next.Draining, t) {
			next.Draining = append(next.Draining, t)
		}
	}
	for _, t := range next.Targets {
		name, _, _ := strings.Cut(t, ":")
		if c, ok := h.containers[name]; !ok || !c.Running() {
			h.violate("route %s set to %s, which is not running", r.App, t)
		}
	}
	h.routes[r.App] = next
	h.logRoute(r.App, next.Targets)
	if !had {
		return drivers.Route{}, nil
	}
	return copyRoute(prev), nil
}

// Drain ends the draining of targets and reports the requests still in
// flight on them (see SetInFlight).
func (h *Host) Drain(ctx context.Context, app string, targets []string, timeout time.Duration) (int, error) {
	if err := h.call(ctx, "Drain", app); err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	remaining := 0
	for _, t := range targets {
		remaining += h.inFlight[t]
	}
	if r, ok := h.routes[app]; ok {
		r.Draining = slices.DeleteFunc(r.Draining, func(t string) bool { return slices.Contains(targets, t) })
		h.routes[app] = r
	}
	return remaining, nil
}

// RemoveRoute stops serving an app.
func (h *Host) RemoveRoute(ctx context.Context, app string) error {
	if err := h.call(ctx, "RemoveRoute", app); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.routes[app]; ok {
		delete(h.routes, app)
		h.logRoute(app, nil)
	}
	delete(h.certs, app) // as luma-proxy forgets it
	return nil
}

// Routes lists the routes by app.
func (h *Host) Routes(ctx context.Context) ([]drivers.Route, error) {
	if err := h.call(ctx, "Routes", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]drivers.Route, 0, len(h.routes))
	for _, r := range h.routes {
		out = append(out, copyRoute(r))
	}
	slices.SortFunc(out, func(a, b drivers.Route) int { return strings.Compare(a.App, b.App) })
	return out, nil
}

// Route returns an app's route.
func (h *Host) Route(app string) (drivers.Route, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.routes[app]
	return copyRoute(r), ok
}

// SetInFlight makes n requests on target outlive any Drain.
func (h *Host) SetInFlight(target string, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight[target] = n
}

// RouteLog returns every change of an app's route, oldest first.
func (h *Host) RouteLog(app string) []RouteChange {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.log[app])
}

// Violations lists what no deploy may do, as it happened: route to a
// container that is not running, or stop or remove a container while a
// route serves it or before its draining ended.
func (h *Host) Violations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.violations)
}

func (h *Host) logRoute(app string, targets []string) {
	h.seq++
	h.log[app] = append(h.log[app], RouteChange{Seq: h.seq, At: h.clock.Now(), Targets: slices.Clone(targets)})
}

func (h *Host) violate(format string, args ...any) {
	h.violations = append(h.violations, fmt.Sprintf(format, args...))
}

// checkStop flags stopping c while a route serves or drains it. The host's
// lock is held.
func (h *Host) checkStop(c *container, verb string) {
	if !c.Running() {
		return
	}
	for app, r := range h.routes {
		for _, t := range r.Targets {
			if name, _, _ := strings.Cut(t, ":"); name == c.Name {
				h.violate("%s %s while route %s serves it", verb, c.Name, app)
			}
		}
		for _, t := range r.Draining {
			if name, _, _ := strings.Cut(t, ":"); name == c.Name {
				h.violate("%s %s while route %s still drains it", verb, c.Name, app)
			}
		}
	}
}
