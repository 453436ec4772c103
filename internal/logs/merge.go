package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/luma-deploy/luma/drivers"
)

// source is one open log and its next line.
type source struct {
	server, container string
	stream            drivers.LogStream
	head              drivers.LogLine
	done              bool
}

func (s *source) advance() error {
	l, err := s.stream.Next()
	if err == io.EOF {
		s.done = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("[%s] logs of %s: %w", s.server, s.container, err)
	}
	s.head = l
	return nil
}

// merge opens every chosen container's log on every server at once, then
// prints the lines in time order: each log is in order already, so the
// next line is always the earliest of the logs' next lines. Equal times
// keep the order of servers and of container names.
func (o *Options) merge(ctx context.Context) error {
	sources, err := o.open(ctx)
	defer func() {
		for _, s := range sources {
			s.stream.Close()
		}
	}()
	if err != nil {
		return err
	}
	for _, s := range sources {
		if err := s.advance(); err != nil {
			return err
		}
	}
	for {
		var next *source
		for _, s := range sources {
			if !s.done && (next == nil || s.head.Time.Before(next.head.Time)) {
				next = s
			}
		}
		if next == nil {
			return nil
		}
		if err := o.Print(Line{Server: next.server, Container: next.container, LogLine: next.head}); err != nil {
			return err
		}
		if err := next.advance(); err != nil {
			return err
		}
	}
}

// open opens the logs on every server in parallel, in server then
// container order; every server's error is kept, each naming its server.
func (o *Options) open(ctx context.Context) ([]*source, error) {
	per := make([][]*source, len(o.Servers))
	var (
		mu   sync.Mutex
		errs []error
		g    errgroup.Group
	)
	for i, s := range o.Servers {
		g.Go(func() error {
			list, err := o.chosen(ctx, s)
			for _, c := range list {
				if err != nil {
					break
				}
				var st drivers.LogStream
				st, err = s.Engine.Logs(ctx, c.Name, o.logOptions())
				if errors.Is(err, drivers.ErrNotFound) {
					err = nil // removed since it was listed
					continue
				}
				if err == nil {
					per[i] = append(per[i], &source{server: s.Name, container: c.Name, stream: st})
				}
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("[%s] %w", s.Name, err))
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	var out []*source
	for _, p := range per {
		out = append(out, p...)
	}
	return out, errors.Join(errs...)
}
