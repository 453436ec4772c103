package fleet

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/luma-deploy/luma/drivers/docker"
	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/internal/config"
	"golang.org/x/sync/errgroup"
)

// Server is one connected server.
type Server struct {
	Name   string
	Engine *docker.Engine
	Proxy  *proxyclient.Client
}

// Fleet is the set of connected servers of one run.
type Fleet struct {
	servers map[string]*Server
	names   []string
}

// MaxParallel bounds how many servers one run talks to at once: SSH
// handshakes and engine calls of a large fleet do not all start together.
const MaxParallel = 16

// Connect reaches every named server in parallel. When any cannot be
// reached it closes the others and fails, naming each unreachable server,
// so that a deploy changes nothing anywhere unless all are reachable.
func Connect(ctx context.Context, cfg *config.Config, names []string) (*Fleet, error) {
	f := &Fleet{servers: map[string]*Server{}, names: names}
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(MaxParallel)
	for _, name := range names {
		g.Go(func() error {
			s, err := connect(ctx, cfg, name)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("[%s] %w", name, err))
				return nil // every server's error is kept, not only the first
			}
			f.servers[name] = s
			return nil
		})
	}
	g.Wait()
	if len(errs) > 0 {
		f.Close()
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, errors.Join(errs...)
	}
	return f, nil
}

func connect(ctx context.Context, cfg *config.Config, name string) (*Server, error) {
	t, err := Target(name, cfg.SSH)
	if err != nil {
		return nil, err
	}
	e, err := docker.Connect(ctx, t)
	if err != nil {
		return nil, err
	}
	return &Server{Name: name, Engine: e, Proxy: proxyclient.New(e)}, nil
}

// Get returns a connected server by name.
func (f *Fleet) Get(name string) *Server { return f.servers[name] }

// Names lists the servers in the order given to Connect.
func (f *Fleet) Names() []string { return f.names }

// Close closes every connection: each proxy session first (its remote
// command exits), then the Engine under it.
func (f *Fleet) Close() {
	var g errgroup.Group
	g.SetLimit(MaxParallel)
	for _, s := range f.servers {
		g.Go(func() error {
			s.Proxy.Close()
			return s.Engine.Close()
		})
	}
	g.Wait()
}

// Each runs fn on every server in parallel and joins the errors, each
// prefixed with its server.
func (f *Fleet) Each(fn func(*Server) error) error {
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	g.SetLimit(MaxParallel)
	for _, name := range f.names {
		s := f.servers[name]
		g.Go(func() error {
			if err := fn(s); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("[%s] %w", s.Name, err))
				mu.Unlock()
			}
			return nil // every server's error is kept, not only the first
		})
	}
	g.Wait()
	return errors.Join(errs...)
}
