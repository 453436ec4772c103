package remove

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"golang.org/x/sync/errgroup"
)

// Target is one connected server.
type Target struct {
	Name   string
	Engine drivers.Containers
	Proxy  drivers.Proxy
}

// RunOptions is `luma remove app...` without the CLI.
type RunOptions struct {
	Config  *config.Config
	Apps    []*config.App
	Servers []Target
	Options     // holder and lease of the locks
	Limit   int // servers worked on at once
	Out     Reporter
}

// AppError is the failure of removing one app; Err joins every server's
// error, each prefixed with its name.
type AppError struct {
	App string
	Err error
}

func (e *AppError) Error() string { return fmt.Sprintf("remove %s: %v", e.App, e.Err) }
func (e *AppError) Unwrap() error { return e.Err }

// Run removes the apps one after another, each from all its servers at
// once, and stops at the first app that could not be removed everywhere
// (an *AppError). Every step is safe to repeat.
func Run(ctx context.Context, opts RunOptions) error {
	for _, a := range opts.Apps {
		app := App{Project: opts.Config.Name, Name: a.Name, DrainTimeout: a.DrainTimeout, StopTimeout: a.StopTimeout}
		var (
			mu   sync.Mutex
			errs []error
			g    errgroup.Group
		)
		g.SetLimit(max(opts.Limit, 1))
		for _, s := range opts.Servers {
			if !slices.Contains(a.Servers, s.Name) {
				continue
			}
			g.Go(func() error {
				if err := Server(ctx, s.Name, s.Engine, s.Proxy, app, opts.Options, opts.Out); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("[%s] %w", s.Name, err))
					mu.Unlock()
				}
				return nil // every server's error is kept
			})
		}
		g.Wait()
		if len(errs) > 0 {
			return &AppError{App: a.Name, Err: errors.Join(errs...)}
		}
	}
	return nil
}
