package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// ErrHostTaken is returned when a route claims a host another app serves.
var ErrHostTaken = errors.New("host is already routed to another app")

// Router maps request hosts to services. Every change of what a request can
// pick happens under mu, and a request picks its target and counts itself
// in under the read lock, so after SetRoute returns no request can still
// start on a removed target.
type Router struct {
	opts targetOptions

	mu       sync.RWMutex
	services map[string]*Service           // app → service
	hosts    map[string]*Service           // host → service; "" serves any other host
	draining map[string]map[string]*Target // app → addr → removed target with requests in flight
}

// newRouter returns an empty router.
func newRouter(opts targetOptions) *Router {
	return &Router{
		opts:     opts,
		services: map[string]*Service{},
		hosts:    map[string]*Service{},
		draining: map[string]map[string]*Target{},
	}
}

// ServeHTTP routes a request by its Host header.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc, t := rt.acquire(requestHost(r.Host))
	switch {
	case svc == nil:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "luma-proxy: no app is served at this host\n")
	case t == nil:
		writeError(w, http.StatusServiceUnavailable)
	default:
		t.serve(w, r, svc)
	}
}

// acquire finds the service for host and picks a target, counting the
// request in before the lock is released.
func (rt *Router) acquire(host string) (*Service, *Target) {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	svc := rt.hosts[host]
	if svc == nil {
		svc = rt.hosts[""]
	}
	if svc == nil {
		return nil, nil
	}
	t := svc.lb.pick()
	if t != nil {
		t.begin()
	}
	return svc, t
}

// SetRoute replaces the app's hosts and targets in one step and returns
// the route it replaced (zero when the app was new). Targets kept keep
// their connections and counters; removed ones start draining.
func (rt *Router) SetRoute(r drivers.Route) (drivers.Route, error) {
	r, err := normalizeRoute(r)
	if err != nil {
		return drivers.Route{}, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if err := rt.checkHosts(r); err != nil {
		return drivers.Route{}, err
	}
	old := rt.services[r.App]
	var prev drivers.Route
	oldLB := newLoadBalancer(nil)
	if old != nil {
		prev = old.route()
		prev.Draining = rt.drainingAddrs(r.App)
		oldLB = old.lb
		rt.unmapHosts(old)
	}
	opts := rt.targetOptions(r)
	targets := make([]*Target, 0, len(r.Targets))
	for _, addr := range r.Targets {
		t := rt.reuse(r.App, oldLB, addr, opts)
		t.removed.Store(false)
		t.healthy.Store(true) // the deployer checked it before routing to it
		targets = append(targets, t)
	}
	for _, t := range oldLB.targets {
		if !slices.Contains(r.Targets, t.addr) {
			rt.retire(r.App, t)
		}
	}
	rt.install(newService(r, newLoadBalancer(targets)))
	return prev, nil
}

// targetOptions are the options of new targets of route r.
func (rt *Router) targetOptions(r drivers.Route) targetOptions {
	opts := rt.opts
	opts.App = r.App
	if r.UpstreamIdleTimeout > 0 {
		opts.IdleConnTimeout = r.UpstreamIdleTimeout
	}
	return opts
}

// checkHosts refuses a route claiming a host that another app serves.
func (rt *Router) checkHosts(r drivers.Route) error {
	hosts := r.Hosts
	if len(hosts) == 0 {
		hosts = []string{""}
	}
	for _, h := range hosts {
		if s := rt.hosts[h]; s != nil && s.app != r.App {
			name := h
			if name == "" {
				name = "any host (route without hosts)"
			}
			return fmt.Errorf("%w: %s is served by %s", ErrHostTaken, name, s.app)
		}
	}
	return nil
}

// reuse returns the app's existing target for addr, from the current set or
// back from draining (a rollback), or a new one.
func (rt *Router) reuse(app string, lb *LoadBalancer, addr string, opts targetOptions) *Target {
	if t := lb.find(addr); t != nil {
		return t
	}
	if t := rt.draining[app][addr]; t != nil {
		delete(rt.draining[app], addr)
		return t
	}
	return newTarget(addr, opts)
}

// retire takes t out of traffic. With requests in flight it drains; else its
// connections close now.
func (rt *Router) retire(app string, t *Target) {
	t.removed.Store(true)
	if t.Inflight() == 0 {
		t.close()
		return
	}
	if rt.draining[app] == nil {
		rt.draining[app] = map[string]*Target{}
	}
	rt.draining[app][t.addr] = t
}

func (rt *Router) install(svc *Service) {
	rt.services[svc.app] = svc
	if len(svc.hosts) == 0 {
		rt.hosts[""] = svc
	}
	for _, h := range svc.hosts {
		rt.hosts[h] = svc
	}
}

func (rt *Router) unmapHosts(svc *Service) {
	for h, s := range rt.hosts {
		if s == svc {
			delete(rt.hosts, h)
		}
	}
}

// RemoveRoute stops serving app; its targets drain. Removing an app that
// has no route is no error.
func (rt *Router) RemoveRoute(app string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	svc := rt.services[app]
	if svc == nil {
		return
	}
	rt.unmapHosts(svc)
	delete(rt.services, app)
	for _, t := range svc.lb.targets {
		rt.retire(app, t)
	}
}

// Routes lists every app's route, sorted by app. Apps whose route was
// removed but still have requests in flight appear with only Draining.
func (rt *Router) Routes() []drivers.Route {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	var out []drivers.Route
	for app, svc := range rt.services {
		r := svc.route()
		r.Draining = rt.drainingAddrs(app)
		out = append(out, r)
	}
	for app := range rt.draining {
		if rt.services[app] == nil {
			if d := rt.drainingAddrs(app); len(d) > 0 {
				out = append(out, drivers.Route{App: app, Draining: d})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out
}

// drainingAddrs lists app's removed targets that still serve requests.
func (rt *Router) drainingAddrs(app string) []string {
	var out []string
	for addr, t := range rt.draining[app] {
		if t.Inflight() > 0 {
			out = append(out, addr)
		}
	}
	sort.Strings(out)
	return out
}

// Drain waits until none of the app's targets named has a request in
// flight, or timeout, and returns how many are still in flight. Targets
// the router does not know count as drained. Drained removed targets close
// their connections and leave the draining list.
func (rt *Router) Drain(ctx context.Context, app string, addrs []string, timeout time.Duration) (int, error) {
	targets := rt.lookup(app, addrs)
	wctx, cancel := context.WithTimeout(ctx, max(timeout, 0))
	defer cancel()
	for _, t := range targets {
		if !t.waitIdle(wctx) {
			break
		}
	}
	remaining := 0
	for _, t := range targets {
		remaining += t.Inflight()
	}
	rt.forget(app, targets)
	if remaining > 0 && ctx.Err() != nil {
		return remaining, ctx.Err()
	}
	return remaining, nil
}

// lookup finds the app's targets named addrs, draining or active.
func (rt *Router) lookup(app string, addrs []string) []*Target {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	var out []*Target
	for _, addr := range addrs {
		t := rt.draining[app][addr]
		if t == nil && rt.services[app] != nil {
			t = rt.services[app].lb.find(addr)
		}
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// forget drops drained removed targets from the draining list.
func (rt *Router) forget(app string, targets []*Target) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, t := range targets {
		if t.removed.Load() && t.Inflight() == 0 && rt.draining[app][t.addr] == t {
			delete(rt.draining[app], t.addr)
			t.close()
		}
	}
	if len(rt.draining[app]) == 0 {
		delete(rt.draining, app)
	}
}

// restore installs routes read from the state file. Their targets get no
// traffic while another target of the app is known healthy, until a probe
// passes; it returns the services whose targets need probing.
func (rt *Router) restore(routes []drivers.Route) ([]*Service, []error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var restored []*Service
	var errs []error
	for _, r := range routes {
		r, err := normalizeRoute(r)
		if err == nil {
			err = rt.checkHosts(r)
		}
		if err == nil && rt.services[r.App] != nil {
			err = fmt.Errorf("route %s appears twice", r.App)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		opts := rt.targetOptions(r)
		targets := make([]*Target, len(r.Targets))
		for i, addr := range r.Targets {
			targets[i] = newTarget(addr, opts)
			targets[i].healthy.Store(false)
		}
		svc := newService(r, newLoadBalancer(targets))
		rt.install(svc)
		restored = append(restored, svc)
	}
	return restored, errs
}

// snapshot is the routes to persist (without draining targets: requests in
// flight do not survive a restart).
func (rt *Router) snapshot() []drivers.Route {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	out := make([]drivers.Route, 0, len(rt.services))
	for _, svc := range rt.services {
		out = append(out, svc.route())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].App < out[j].App })
	return out
}

// close drops every idle upstream connection.
func (rt *Router) close() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, svc := range rt.services {
		for _, t := range svc.lb.targets {
			t.close()
		}
	}
	for _, m := range rt.draining {
		for _, t := range m {
			t.close()
		}
	}
}

// tlsOf returns the HTTPS settings of the app serving host (nil: none).
func (rt *Router) tlsOf(host string) *drivers.RouteTLS {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	svc := rt.hosts[host]
	if svc == nil {
		svc = rt.hosts[wildcardOf(host)]
	}
	if svc == nil {
		return nil
	}
	return svc.tls
}

// peersOf returns the other proxies of the app serving host, which may
// hold the answer to an ACME challenge for it; for a host this proxy does
// not serve (yet: its route may arrive a moment after another server's),
// every peer of every HTTPS route.
func (rt *Router) peersOf(host string) []string {
	if t := rt.tlsOf(host); t != nil {
		return t.Peers
	}
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	var all []string
	for _, svc := range rt.services {
		if svc.tls != nil {
			for _, p := range svc.tls.Peers {
				if !slices.Contains(all, p) {
					all = append(all, p)
				}
			}
		}
	}
	return all
}
