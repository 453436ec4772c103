package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/luma-deploy/luma/drivers"
)

var _ drivers.Logs = (*Host)(nil)

// errLogClosed is what Next returns once the stream was closed.
var errLogClosed = errors.New("log stream closed")

// Log appends lines to a container's log on stream (drivers.Stdout or
// drivers.Stderr), stamped with the host's clock, as the app in it would
// print them; text may hold several lines. A missing container is
// ignored. Followers see the lines at once.
func (h *Host) Log(name, stream, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.containers[name]; ok {
		h.appendLog(c, stream, text)
	}
}

// appendLog adds text's lines to c's log. h.mu is held.
func (h *Host) appendLog(c *container, stream, text string) {
	now := h.clock.Now()
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		c.logs = append(c.logs, drivers.LogLine{Time: now, Stream: stream, Text: strings.TrimSuffix(line, "\n")})
	}
	h.wakeLogs()
}

// runCmd runs c's Cmd through run, as Behavior.Run says: its output goes
// to the log and the container exits. h.mu is held.
func (h *Host) runCmd(c *container, run ExecFunc) {
	stdout, stderr, code := run(c.spec.Cmd, nil)
	h.appendLog(c, drivers.Stdout, string(stdout))
	h.appendLog(c, drivers.Stderr, string(stderr))
	c.State, c.ExitCode = "exited", code
}

// wakeLogs wakes every follower: a log grew, or a container stopped or
// went. h.mu is held.
func (h *Host) wakeLogs() {
	close(h.logWake)
	h.logWake = make(chan struct{})
}

// Logs opens a container's log as the Engine does: the last opts.Tail
// lines written at or after opts.Since, then, with opts.Follow, new lines
// until the container stops or is removed.
func (h *Host) Logs(ctx context.Context, name string, opts drivers.LogOptions) (drivers.LogStream, error) {
	if err := h.call(ctx, "Logs", name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[name]
	if !ok {
		return nil, fmt.Errorf("logs of container %s: %w", name, drivers.ErrNotFound)
	}
	next := 0
	if opts.Tail >= 0 {
		next = max(0, len(c.logs)-opts.Tail)
	}
	return &logStream{h: h, c: c, name: name, ctx: ctx, opts: opts, next: next, quit: make(chan struct{})}, nil
}

type logStream struct {
	h    *Host
	c    *container // the one opened, even once removed or replaced by name
	name string
	ctx  context.Context
	opts drivers.LogOptions
	next int // index in c.logs
	quit chan struct{}
	once bool
}

func (s *logStream) Next() (drivers.LogLine, error) {
	for {
		s.h.mu.Lock()
		for s.next < len(s.c.logs) {
			l := s.c.logs[s.next]
			s.next++
			if !l.Time.Before(s.opts.Since) {
				s.h.mu.Unlock()
				return l, nil
			}
		}
		live := s.h.containers[s.name] == s.c && (s.c.State == "running" || s.c.State == "restarting")
		wake := s.h.logWake
		s.h.mu.Unlock()
		if !s.opts.Follow || !live {
			return drivers.LogLine{}, io.EOF
		}
		select {
		case <-wake:
		case <-s.quit:
			return drivers.LogLine{}, errLogClosed
		case <-s.ctx.Done():
			return drivers.LogLine{}, s.ctx.Err()
		}
	}
}

// Close ends the stream; a Next waiting for a line returns.
func (s *logStream) Close() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if !s.once {
		s.once = true
		close(s.quit)
	}
	return nil
}
