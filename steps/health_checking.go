package steps

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// fastProbe is the probe interval during the start period, where failures
// do not count: a new container is detected healthy soon after it is.
const fastProbe = 100 * time.Millisecond

// checkHealth is the work of HealthChecking: every new container must pass.
// healthy is fired once every server passed (flow's meet).
func (r *run) checkHealth(ctx context.Context) (func(*machine.Record), error) {
	names := r.m.Record().New
	r.say("Performing health checks on %s...", plural(len(names), "container", "containers"))
	if err := parallel(ctx, names, true, r.checkOne); err != nil {
		return nil, err
	}
	r.say("All %s passed health checks ✓", plural(len(names), "container", "containers"))
	return nil, nil
}

// checkOne applies the Docker-style policy to one container: failures in
// StartPeriod do not count and probes run every min(Interval, 100ms); after
// it, Retries consecutive failures, one per Interval, fail the container.
// A container that exits or restarts fails at once.
func (r *run) checkOne(ctx context.Context, name string) error {
	h := r.app.Health
	start := time.Now()
	failures := 0
	for {
		inStart := time.Since(start) < h.StartPeriod
		p := r.probe(ctx, name, inStart)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case p.ok:
			r.say("Health check passed for %s", name)
			return nil
		case p.crashed:
			r.say("Health check failed for %s: %s", name, p.reason)
			return fmt.Errorf("health check of %s: %s", name, p.reason)
		}
		wait := min(h.Interval, fastProbe)
		if !inStart {
			wait = h.Interval
			if failures++; failures >= h.Retries {
				if p.timeout {
					r.say("Health check timeout for %s: %s", name, p.reason)
					return fmt.Errorf("health check of %s timed out: %s", name, p.reason)
				}
				r.say("Health check failed for %s: %s", name, p.reason)
				return fmt.Errorf("health check of %s: %s", name, p.reason)
			}
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

type probeResult struct {
	ok      bool
	crashed bool // exited or restarting: no retry helps
	timeout bool // no response at all
	reason  string
}

// probe checks once that the container runs, has not restarted, and that
// the app answers 2xx at Health.Path. Without AppPort, running past the
// start period is healthy.
func (r *run) probe(ctx context.Context, name string, inStart bool) probeResult {
	c, err := r.srv.Engine.Inspect(ctx, name)
	switch {
	case errors.Is(err, drivers.ErrNotFound):
		return probeResult{crashed: true, reason: "the container is gone"}
	case err != nil:
		return probeResult{reason: fmt.Sprintf("inspect: %v", err)}
	}
	if p := crashed(c); p != "" {
		return probeResult{crashed: true, reason: p}
	}
	if r.app.AppPort <= 0 {
		return probeResult{ok: !inStart, reason: "in its start period"}
	}
	h := r.app.Health
	target := r.app.targets([]string{name})[0]
	res, err := r.srv.Proxy.Probe(ctx, target, h.Path, h.Timeout)
	switch {
	case err != nil:
		return probeResult{reason: fmt.Sprintf("probe %s: %v", target, err)}
	case res.Healthy():
		return probeResult{ok: true}
	case res.Status == 0:
		return probeResult{timeout: true, reason: fmt.Sprintf("no response from GET %s on port %d (%s)", h.Path, r.app.AppPort, res.Error)}
	}
	return probeResult{reason: fmt.Sprintf("GET %s returned %d", h.Path, res.Status)}
}

// crashed describes a new container that exited or restarted, or is "".
// New containers start with no restart, so any restart is a crash.
func crashed(c drivers.Container) string {
	switch {
	case c.State == "restarting" || c.RestartCount > 0:
		return fmt.Sprintf("crashed and restarting (exit code %d, %d restarts)", c.ExitCode, c.RestartCount)
	case !c.Running():
		return fmt.Sprintf("crashed (%s, exit code %d)", c.State, c.ExitCode)
	}
	return ""
}
