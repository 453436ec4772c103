package fake

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/luma-deploy/luma/drivers"
)

var _ drivers.Sessions = (*Host)(nil)

// ProcessFunc is a command run attached in a fake container: cmd with
// the container's environment env, reading s.Stdin (nil: none) and
// writing s.Stdout and s.Stderr; it returns the exit code. ctx is
// cancelled when the container is stopped. The fake models no terminal:
// s.Tty is only passed on.
type ProcessFunc func(ctx context.Context, cmd, env []string, s drivers.Stdio) int

// Attach runs cmd in a running container as its Behavior's Attached says,
// else through its Exec (stdin read to its end first), else it succeeds
// with no output. Cancelling ctx returns at once, as a cut connection
// does; the command runs on to its end, as an exec'd process does.
func (h *Host) Attach(ctx context.Context, name string, spec drivers.ExecSpec) (int, error) {
	if err := h.call(ctx, "Attach", name); err != nil {
		return -1, err
	}
	what := "exec " + cmdName(spec.Cmd) + " in " + name
	h.mu.Lock()
	c, ok := h.containers[name]
	if !ok {
		h.mu.Unlock()
		return -1, fmt.Errorf("%s: container %s: %w", what, name, drivers.ErrNotFound)
	}
	if !c.Running() {
		h.mu.Unlock()
		return -1, fmt.Errorf("%s: container %s is not running", what, name)
	}
	run, env := processOf(h.behavior(c)), c.spec.Env
	h.mu.Unlock()
	done := make(chan int, 1)
	go func() { done <- run(context.WithoutCancel(ctx), spec.Cmd, env, spec.Stdio) }()
	select {
	case code := <-done:
		return code, nil
	case <-ctx.Done():
		return -1, fmt.Errorf("%s: %w", what, ctx.Err())
	}
}

// RunOnce creates the one-off container (Create, so faults and a missing
// image apply), starts it (Start: a CrashOnStart ends it at once), runs
// its Cmd as Attach does and removes it whatever happened. Cancelling ctx
// stops it: its command's context is cancelled and the container removed.
func (h *Host) RunOnce(ctx context.Context, spec drivers.RunSpec) (int, error) {
	name := spec.Container.Name
	if err := h.call(ctx, "RunOnce", name); err != nil {
		return -1, err
	}
	// Created without its command, which runs attached below, not at
	// Start; the spec keeps it.
	created := spec.Container
	created.Cmd = nil
	if err := h.Create(ctx, created); err != nil {
		return -1, err
	}
	defer h.Remove(context.WithoutCancel(ctx), name)
	if err := h.Start(ctx, name); err != nil {
		return -1, err
	}
	h.mu.Lock()
	c := h.containers[name]
	if c != nil {
		c.spec.Cmd = slices.Clone(spec.Container.Cmd)
	}
	if c == nil || !c.Running() { // crashed at start, or removed meanwhile
		code := -1
		if c != nil {
			code = c.ExitCode
		}
		h.mu.Unlock()
		return code, nil
	}
	run := processOf(h.behavior(c))
	h.mu.Unlock()

	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	done := make(chan int, 1)
	go func() { done <- run(pctx, spec.Container.Cmd, spec.Container.Env, spec.Stdio) }()
	select {
	case code := <-done:
		h.Crash(name, code) // it exited with the command's code
		return code, nil
	case <-ctx.Done():
		stop()
		h.Stop(context.WithoutCancel(ctx), name, spec.Container.StopTimeout)
		return -1, fmt.Errorf("run container %s: %w", name, ctx.Err())
	}
}

// processOf is what an attached command does in a container of b.
func processOf(b Behavior) ProcessFunc {
	if b.Attached != nil {
		return b.Attached
	}
	exec := b.Exec
	if exec == nil {
		return func(context.Context, []string, []string, drivers.Stdio) int { return 0 }
	}
	return func(_ context.Context, cmd, _ []string, s drivers.Stdio) int {
		var stdin []byte
		if s.Stdin != nil {
			stdin, _ = io.ReadAll(s.Stdin)
		}
		stdout, stderr, code := exec(cmd, stdin)
		if s.Stdout != nil {
			s.Stdout.Write(stdout)
		}
		if s.Stderr != nil {
			s.Stderr.Write(stderr)
		}
		return code
	}
}
