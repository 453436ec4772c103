// Package steps does the work of each state of the deploy machine, one file
// per state (idle.go, creating.go, health_checking.go, switching.go,
// draining.go, cleaning.go, rolling_back.go), and Deploy drives one machine
// per server across them, with one traffic switch for all servers. It talks
// only to the interfaces of package drivers.
package steps

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// App is one app to deploy, as the config resolved it.
type App struct {
	Project string
	Name    string
	Image   string
	// ImageRef names Image in the history when Image is an image ID (a
	// rollback to an image its tag no longer names); "" otherwise.
	ImageRef string
	Release  string
	Replicas int      // at least 1
	Env      []string // KEY=VALUE, secrets included: never printed
	Cmd      []string
	Volumes  []string
	// Hosts routed to AppPort by luma-proxy. No Hosts: no route; the
	// containers are still health-checked over HTTP when AppPort > 0.
	Hosts       []string
	AppPort     int
	MaxBodySize int64         // bytes luma-proxy lets through per request; 0: no limit
	IdleTimeout time.Duration // longest reuse of an idle connection to the app; 0: the proxy's own
	// TLS serves Hosts over HTTPS (nil: plain HTTP). Its Peers are filled
	// per server from ProxyAddrs.
	TLS *drivers.RouteTLS
	// Certificate is the app's own, given to each proxy before the switch.
	Certificate *drivers.OwnCertificate
	// ProxyAddrs is where each of the app's servers' luma-proxy takes
	// plain HTTP from the others (host:port), for ACME challenge relay.
	ProxyAddrs   map[string]string
	Health       HealthCheck
	DrainTimeout time.Duration // 0: stop waiting at once
	StopTimeout  time.Duration // 0: kill at once
}

// HealthCheck is a Docker-style health policy for new containers. Its
// defaults live in package config, which fills every field; steps applies
// none of its own.
type HealthCheck struct {
	Path        string        // probed when the app has a port
	StartPeriod time.Duration // failures in it do not count; probes run fast
	Interval    time.Duration // between probes
	Timeout     time.Duration // per probe
	Retries     int           // consecutive failures after StartPeriod
}

// Server is one server the app runs on.
type Server struct {
	Name   string // as in the config, printed as [name]
	Engine interface {
		drivers.Containers
		drivers.Networks
		drivers.Images
	}
	Proxy  drivers.Proxy  // luma-proxy on that server: router and store
	Source drivers.Images // where the image comes from when the server lacks it; nil: it must be there
}

// Reporter prints one progress line for a server; the CLI adds the
// "[server] " prefix. Servers run in parallel: it must be safe for
// concurrent use.
type Reporter interface {
	Printf(server, format string, args ...any)
}

// Options tune a run.
type Options struct {
	Holder   string           // who deploys, shown to whoever meets the lock; default user@host pid N
	Kind     string           // what the history calls the run: drivers.EventDeploy (default) or EventRollback
	Lease    time.Duration    // lock lease, renewed every Lease/3; default 30s
	LockWait time.Duration    // how long to wait for a lock another live run holds; 0: fail at once
	Now      func() time.Time // clock of records and timings; default time.Now
	// Cleanup bounds, on each server, the work that goes on whatever
	// happens to the run's context: a rollback, the recovery of a dead
	// run, the release of a lock. An engine or proxy that stops answering
	// cannot hold the run forever. Default: a minute plus the app's drain
	// and stop timeouts.
	Cleanup time.Duration
}

// Outcome is how a run ended on one server.
type Outcome string

const (
	// Deployed: the new release serves; the old containers are gone.
	Deployed Outcome = "deployed"
	// RolledBack: the deploy failed before the switch; the old release
	// served throughout and still does.
	RolledBack Outcome = "rolled_back"
	// Interrupted: the context ended before the switch; rolled back.
	Interrupted Outcome = "interrupted"
	// FailedAfterSwitch: the new release serves but draining or cleaning
	// failed; the record keeps the state and the next run finishes it.
	FailedAfterSwitch Outcome = "failed_after_switch"
	// Failed: the run could not start (lock, recovery of a dead run) or
	// could not record or finish its own rollback; the record says where
	// it stopped and the next run recovers from there.
	Failed Outcome = "failed"
)

// Result is what a run did, server by server, in the order given.
type Result struct {
	Servers []ServerResult
}

// ServerResult is one server's part of a run.
type ServerResult struct {
	Server  string
	Outcome Outcome
	// Record is the machine record as last saved.
	Record machine.Record
	// Timings is how long each state of this run took.
	Timings map[machine.State]time.Duration
	// Recovered is the state a dead earlier run was left in, which this
	// run recovered before deploying; empty when there was none.
	Recovered machine.State
	// Err is why this server did not deploy.
	Err error
}

// Errors that tell callers (and exit codes) what state a failed run left.
var (
	// ErrInterrupted: the context was cancelled (Ctrl-C).
	ErrInterrupted = errors.New("interrupted")
	// ErrAfterSwitch: the new release serves but the run stopped before
	// finishing; run the deploy again to finish it.
	ErrAfterSwitch = errors.New("deploy stopped after the switch")
	// ErrLeaseLost: the deploy lock could not be renewed.
	ErrLeaseLost = errors.New("deploy lock lease lost")
	// ErrRollbackUnfinished: a failed deploy could not roll back on some
	// server (unreachable, engine failing); the record there keeps where
	// it stopped and the next run rolls back again.
	ErrRollbackUnfinished = errors.New("rollback unfinished")
)

// Key is the lock key and route name of an app: project/app.
func (a App) Key() string { return naming.Key(a.Project, a.Name) }

// Network is the project's network.
func (a App) Network() string { return naming.Network(a.Project) }

// ContainerNames are the names of the color's replicas.
func (a App) ContainerNames(color string) []string {
	return naming.AppContainers(a.Project, a.Name, color, a.Replicas)
}

// targets are the proxy targets of containers: name:port.
func (a App) targets(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + ":" + strconv.Itoa(a.AppPort)
	}
	return out
}

func (a App) validate(servers []Server) error {
	switch {
	case a.Project == "" || a.Name == "":
		return errors.New("deploy: project and app name are required")
	case a.Image == "":
		return fmt.Errorf("deploy %s: no image", a.Name)
	case len(a.Hosts) > 0 && a.AppPort <= 0:
		return fmt.Errorf("deploy %s: hosts need an app port", a.Name)
	case len(servers) == 0:
		return fmt.Errorf("deploy %s: no servers", a.Name)
	// Config fills these in; a zero here is a caller's bug, not a default.
	case a.Replicas < 1:
		return fmt.Errorf("deploy %s: replicas %d, want at least 1", a.Name, a.Replicas)
	case a.AppPort > 0 && a.Health.Path == "":
		return fmt.Errorf("deploy %s: no health check path", a.Name)
	case a.Health.Interval <= 0 || a.Health.Timeout <= 0 || a.Health.Retries <= 0:
		return fmt.Errorf("deploy %s: health check interval, timeout and retries must be positive", a.Name)
	case a.DrainTimeout < 0 || a.StopTimeout < 0:
		return fmt.Errorf("deploy %s: negative drain or stop timeout", a.Name)
	}
	seen := map[string]bool{}
	for _, s := range servers {
		if s.Engine == nil || s.Proxy == nil {
			return fmt.Errorf("deploy %s: server %s has no engine or proxy", a.Name, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("deploy %s: server %s listed twice", a.Name, s.Name)
		}
		seen[s.Name] = true
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Holder == "" {
		o.Holder = naming.Holder()
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Kind == "" {
		o.Kind = drivers.EventDeploy
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
