// Package remove takes an app away from a server cleanly: under the app's
// deploy lock it stops routing to it, lets in-flight requests finish,
// stops and removes its containers, and forgets its deploy record. Every
// step is safe to repeat, so an interrupted remove is finished by running
// it again. The project network and luma-proxy stay: other apps use them.
package remove

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/steps"
	"golang.org/x/sync/errgroup"
)

// App is what removing an app needs to know.
type App struct {
	Project, Name string
	DrainTimeout  time.Duration // for requests in flight when the route goes
	StopTimeout   time.Duration // between SIGTERM and SIGKILL
}

// Key is the app's route and deploy lock key, as the deploy uses them.
func (a App) Key() string { return naming.Key(a.Project, a.Name) }

// Options name the run in the lock.
type Options struct {
	Holder string
	Lease  time.Duration // renewed every third of it while the remove runs
}

// Reporter prints one progress line for a server.
type Reporter interface {
	Printf(server, format string, args ...any)
}

// Server removes app from one server. A live deploy of the app (or
// another remove) holding the lock fails it with *drivers.LockedError
// before anything changes.
func Server(ctx context.Context, server string, e drivers.Containers, p drivers.Proxy, app App, opts Options, rep Reporter) (err error) {
	key := app.Key()
	if _, err := p.Lock(ctx, key, opts.Holder, opts.Lease); err != nil {
		var held *drivers.LockedError
		if errors.As(err, &held) {
			return err
		}
		return fmt.Errorf("take deploy lock %s: %w", key, err)
	}
	start := time.Now()
	release := ""
	if rec, lerr := p.Load(ctx, app.Project, app.Name); lerr == nil && rec.Active != "" {
		release = rec.Release
	}
	// A lost lease stops the remove, as it stops a deploy: another run
	// may own the app on this server now.
	outer := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopRenew := steps.KeepLease(ctx, p, key, opts.Holder, opts.Lease, func(err error) {
		cancel(fmt.Errorf("%w on %s: %v", steps.ErrLeaseLost, server, err))
		rep.Printf(server, "Lost the deploy lock, stopping: %v", err)
	})
	defer func() {
		stopRenew()
		if err != nil && outer.Err() == nil && context.Cause(ctx) != nil {
			err = fmt.Errorf("%w: the remove stopped", context.Cause(ctx))
		}
		// Released also after a failure or an interrupt, but not waited
		// for longer than the lease, after which it expires anyway.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.Lease)
		defer cancel()
		audit(uctx, server, p, app, release, opts.Holder, start, err, rep)
		if uerr := p.Unlock(uctx, key, opts.Holder); uerr != nil {
			rep.Printf(server, "Could not release the deploy lock (it expires in %s): %v", opts.Lease, uerr)
		}
	}()

	rep.Printf(server, "Removing %s...", app.Name)
	if err := unroute(ctx, server, p, app, rep); err != nil {
		return err
	}
	n, err := removeContainers(ctx, e, app)
	if err != nil {
		return err
	}
	rep.Printf(server, "Stopped and removed %d %s", n, map[bool]string{true: "container", false: "containers"}[n == 1])
	if err := p.Forget(ctx, app.Project, app.Name); err != nil {
		return fmt.Errorf("forget the deploy record of %s: %w", key, err)
	}
	rep.Printf(server, "%s removed ✓", app.Name)
	return nil
}

// unroute stops serving the app's hosts, then waits for the requests in
// flight on its targets: RemoveRoute only starts their drain.
func unroute(ctx context.Context, server string, p drivers.Router, app App, rep Reporter) error {
	routes, err := p.Routes(ctx)
	if err != nil {
		return fmt.Errorf("read routes: %w", err)
	}
	var targets []string
	for _, r := range routes {
		if r.App == app.Key() {
			targets = append(append(targets, r.Targets...), r.Draining...)
		}
	}
	if err := p.RemoveRoute(ctx, app.Key()); err != nil {
		return fmt.Errorf("remove route %s: %w", app.Key(), err)
	}
	if len(targets) == 0 {
		return nil
	}
	left, err := p.Drain(ctx, app.Key(), targets, app.DrainTimeout)
	if err != nil {
		return fmt.Errorf("drain %s: %w", app.Key(), err)
	}
	if left > 0 {
		rep.Printf(server, "%d request(s) still in flight after %s; stopping the containers anyway", left, app.DrainTimeout)
	}
	return nil
}

// removeContainers stops and removes, all at once, every container
// labelled with the app's project and name: both colors and any from
// before blue-green. A container without both labels is never touched.
func removeContainers(ctx context.Context, e drivers.Containers, app App) (int, error) {
	cs, err := e.List(ctx, map[string]string{naming.LabelProject: app.Project, naming.LabelApp: app.Name})
	if err != nil {
		return 0, fmt.Errorf("list containers of %s: %w", app.Key(), err)
	}
	var (
		g       errgroup.Group
		mu      sync.Mutex
		errs    []error
		removed int
	)
	for _, c := range cs {
		if c.Labels[naming.LabelProject] != app.Project || c.Labels[naming.LabelApp] != app.Name {
			continue // an engine filter is trusted, but never blindly
		}
		g.Go(func() error {
			err := e.Stop(ctx, c.Name, app.StopTimeout)
			if err != nil && !errors.Is(err, drivers.ErrNotFound) {
				err = fmt.Errorf("stop %s: %w", c.Name, err)
			} else if err = e.Remove(ctx, c.Name); err != nil {
				err = fmt.Errorf("remove %s: %w", c.Name, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err) // every container's error is kept
				return nil
			}
			removed++
			return nil
		})
	}
	g.Wait()
	return removed, errors.Join(errs...)
}
