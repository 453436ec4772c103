// Package fake is an in-memory server for unit tests: one Host is a server's
// container engine (drivers.Engine) and its luma-proxy (drivers.Proxy) at
// once, so a probe sees the state of the container it probes. Faults and
// container behaviours are declared up front (see Fault and Behavior); the
// host records every route change and flags what a real deploy must never
// do (see Violations). Safe for concurrent use.
package fake

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// Interface checks: a Host is a whole server.
var (
	_ drivers.Engine = (*Host)(nil)
	_ drivers.Proxy  = (*Host)(nil)
)

// ErrInjected is what a Fault without Err returns.
var ErrInjected = errors.New("injected fault")

// Host is one fake server.
type Host struct {
	name  string
	clock *Clock

	mu          sync.Mutex
	containers  map[string]*container
	networks    map[string]map[string]string
	images      map[string]string            // ref → image ID
	imageLabels map[string]map[string]string // image ID → labels
	imageLayers map[string][]Layer           // image ID → layers, base first (SetLayers)
	registries  map[string]*Registry         // host[:port] → registry reachable from here (UseRegistry)
	routes      map[string]drivers.Route
	certs       map[string]drivers.OwnCertificate // app → its own certificate
	files       map[string]File                   // "container:path" → PutFile's
	// luma-proxy upgraded in place (proxyadmin.go)
	proxyInfo       drivers.ProxyInfo
	upgrade         drivers.UpgradeStatus
	upgradeRevision int
	log             map[string][]RouteChange
	seq             int
	violations      []string
	inFlight        map[string]int
	locks           map[string]drivers.Lock
	records         map[string]machine.Record
	events          []drivers.Event
	claims          []drivers.PortClaim
	calls           map[string]int
	faults          []*fault
	behaviors       []Behavior
	nextID          int
	// logWake is closed and replaced when a log grows or a container
	// stops or goes: followers wake up (logs.go).
	logWake chan struct{}
	// imageCreated holds every image, tagged or not: image ID → when it
	// was made (by the host's clock; a load keeps the source's time).
	imageCreated map[string]imageTime
}

type container struct {
	drivers.Container
	spec    drivers.ContainerSpec
	stopped time.Duration // timeout of the last Stop, -1 when never stopped
	healthy int           // healthy probes answered
	probes  int           // probes answered
	logs    []drivers.LogLine
}

// NewHost returns an empty server with its own clock.
func NewHost(name string) *Host {
	return &Host{
		name:        name,
		clock:       NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)),
		containers:  map[string]*container{},
		networks:    map[string]map[string]string{bridge: nil},
		images:      map[string]string{},
		imageLabels: map[string]map[string]string{},
		imageLayers: map[string][]Layer{},
		routes:      map[string]drivers.Route{},
		certs:       map[string]drivers.OwnCertificate{},
		log:         map[string][]RouteChange{},
		inFlight:    map[string]int{},
		locks:       map[string]drivers.Lock{},
		records:     map[string]machine.Record{},
		calls:       map[string]int{},
		logWake:     make(chan struct{}),

		imageCreated: map[string]imageTime{},
	}
}

// Name is the server's name.
func (h *Host) Name() string { return h.name }

// Clock is the host's clock: lock leases expire by it and record times
// follow it when the deploy is given Clock().Now.
func (h *Host) Clock() *Clock { return h.clock }

// Clone copies the host's containers, networks, images, routes, locks,
// records and events (not its faults, call counts or log) with a clock of its own: a
// Fault's Do can take one to keep a server as a deploy that died at that
// call left it.
func (h *Host) Clone() *Host {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := NewHost(h.name)
	c.clock = NewClock(h.clock.Now())
	for name, ct := range h.containers {
		cp := *ct
		cp.Container = copyContainer(ct.Container)
		cp.logs = slices.Clone(ct.logs)
		c.containers[name] = &cp
	}
	for name, labels := range h.networks {
		c.networks[name] = maps.Clone(labels)
	}
	maps.Copy(c.images, h.images)
	maps.Copy(c.imageLabels, h.imageLabels) // never modified in place
	maps.Copy(c.imageLayers, h.imageLayers) // likewise
	for app, r := range h.routes {
		c.routes[app] = copyRoute(r)
	}
	maps.Copy(c.locks, h.locks)
	for k, r := range h.records {
		r.Timings = maps.Clone(r.Timings)
		c.records[k] = r
	}
	c.events = slices.Clone(h.events)
	c.claims = slices.Clone(h.claims)
	c.behaviors = slices.Clone(h.behaviors)
	c.nextID = h.nextID
	maps.Copy(c.imageCreated, h.imageCreated)
	return c
}

// Calls tells how many times op was called.
func (h *Host) Calls(op string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[op]
}

// call counts op, then fails, hangs or runs a hook as the faults declare.
// subject is what the call is about, matched against Fault.Match.
func (h *Host) call(ctx context.Context, op, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	h.calls[op]++
	var hit *fault
	for _, f := range h.faults {
		if f.matches(op, subject) && hit == nil {
			hit = f
		}
	}
	h.mu.Unlock()
	if hit == nil {
		return nil
	}
	return hit.fire(ctx)
}

// Clock is a clock that moves only when told to.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func copyContainer(c drivers.Container) drivers.Container {
	c.Labels = maps.Clone(c.Labels)
	c.Volumes = maps.Clone(c.Volumes)
	nets := make(map[string][]string, len(c.Networks))
	for n, a := range c.Networks {
		nets[n] = slices.Clone(a)
	}
	c.Networks = nets
	return c
}

func copyRoute(r drivers.Route) drivers.Route {
	r.Hosts = slices.Clone(r.Hosts)
	r.Targets = slices.Clone(r.Targets)
	r.Draining = slices.Clone(r.Draining)
	if r.TLS != nil {
		t := *r.TLS
		t.Peers = slices.Clone(t.Peers)
		r.TLS = &t
	}
	return r
}
