package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/luma-deploy/luma/drivers"
)

// follow prints lines as they come from every server until ctx is done.
// Each server is polled for containers that started since (a deploy's new
// color), which are followed from their first line; a log whose container
// stopped just ends.
func (o *Options) follow(parent context.Context) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	lines := make(chan Line, 64)
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range o.Servers {
		g.Go(func() error { return o.followServer(gctx, s, lines) })
	}
	waited := make(chan error, 1)
	go func() {
		waited <- g.Wait()
		close(lines)
	}()
	var printErr error
	for l := range lines {
		if printErr != nil {
			continue // drain until every follower saw the cancel
		}
		if printErr = o.Print(l); printErr != nil {
			cancel()
		}
	}
	err := <-waited
	switch {
	case printErr != nil:
		return printErr
	case parent.Err() != nil: // Ctrl-C: the normal end
		return nil
	}
	return err
}

// followServer follows the logs of one server until ctx is done or one of
// them fails.
func (o *Options) followServer(ctx context.Context, s Server, lines chan<- Line) error {
	g, gctx := errgroup.WithContext(ctx)
	seen := map[string]bool{} // container IDs: a name comes back with each deploy
	follow := func(c drivers.Container, opts drivers.LogOptions) {
		seen[c.ID] = true
		g.Go(func() error { return o.send(gctx, s, c.Name, opts, lines) })
	}
	g.Go(func() error {
		first, err := o.chosen(gctx, s)
		if err != nil {
			return err
		}
		for _, c := range first {
			follow(c, o.logOptions())
		}
		tick := time.NewTicker(o.poll())
		defer tick.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-tick.C:
			}
			list, err := o.present(gctx, s)
			if err != nil {
				return err
			}
			for _, c := range list {
				if c.Running() && !seen[c.ID] {
					follow(c, drivers.LogOptions{Tail: drivers.AllLines, Follow: true})
				}
			}
		}
	})
	err := g.Wait()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("[%s] %w", s.Name, err)
	}
	return nil
}

// send follows one container's log into lines.
func (o *Options) send(ctx context.Context, s Server, name string, opts drivers.LogOptions, lines chan<- Line) error {
	st, err := s.Engine.Logs(ctx, name, opts)
	if errors.Is(err, drivers.ErrNotFound) {
		return nil // removed since it was listed
	}
	if err != nil {
		return err
	}
	defer st.Close()
	for {
		l, err := st.Next()
		switch {
		case err == io.EOF:
			return nil
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("logs of %s: %w", name, err)
		}
		select {
		case lines <- Line{Server: s.Name, Container: name, LogLine: l}:
		case <-ctx.Done():
			return nil
		}
	}
}
