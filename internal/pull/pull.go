// Package pull gets images from registries onto servers: the checks that
// refuse a missing image or a wrong password before anything changes, and
// the pulls with their progress lines. Credentials go only to the registry
// they belong to (drivers.RegistryAuth.For), per call.
package pull

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/luma-deploy/luma/drivers"
)

// Reporter prints one progress line for a server; safe for concurrent use.
type Reporter interface {
	Printf(server, format string, args ...any)
}

// Server is one server's engine.
type Server struct {
	Name   string
	Engine drivers.Images
}

// limit is how many servers are asked at once.
const limit = 16

// Check asks, from every server at once, whether ref's registry has it for
// auth, pulling nothing; every server's refusal is kept, prefixed with its
// name.
func Check(ctx context.Context, servers []Server, ref string, auth *drivers.RegistryAuth) error {
	return each(servers, func(s Server) error {
		return s.Engine.CheckImage(ctx, ref, auth.For(ref))
	})
}

// All pulls ref on every server at once, each with its progress lines.
func All(ctx context.Context, servers []Server, ref string, auth *drivers.RegistryAuth, rep Reporter) error {
	return each(servers, func(s Server) error {
		return Image(ctx, s.Name, s.Engine, ref, auth, rep)
	})
}

func each(servers []Server, fn func(Server) error) error {
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(limit)
	for _, s := range servers {
		g.Go(func() error {
			if err := fn(s); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("[%s] %w", s.Name, err))
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return errors.Join(errs...)
}

// Image pulls ref on one server: a line when it starts, one every second
// of a longer pull with how far it is, and one with the bytes and rate
// at the end.
func Image(ctx context.Context, server string, e drivers.Images, ref string, auth *drivers.RegistryAuth, rep Reporter) error {
	rep.Printf(server, "Pulling %s on the server...", ref)
	p, took, err := Track(ctx, func(ctx context.Context) error {
		return e.PullImage(ctx, ref, auth.For(ref))
	}, func(p drivers.Progress, took time.Duration) {
		rep.Printf(server, "Pulling %s: %s, %s", ref, Describe(p), Rate(p.Bytes, took))
	})
	if err != nil {
		return err
	}
	rep.Printf(server, "Pulled %s: %s", ref, Done(p, took))
	return nil
}
