package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

var _ drivers.Sessions = (*Engine)(nil)

// Attach runs spec.Cmd in the running container ctr attached to spec's
// streams, as `docker exec [-i] [-t]` does, and returns its exit code.
func (e *Engine) Attach(ctx context.Context, ctr string, spec drivers.ExecSpec) (int, error) {
	what := fmt.Sprintf("exec %s in %s", cmdName(spec.Cmd), ctr)
	created, err := e.cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{
		Cmd:          spec.Cmd,
		TTY:          spec.Tty,
		ConsoleSize:  consoleSize(spec.Stdio),
		AttachStdin:  spec.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if isConflict(err) {
		// 409 here means the container is not running, not a name clash.
		return -1, fmt.Errorf("%s: %v", what, err)
	}
	if err != nil {
		return -1, wrap(err, what)
	}
	att, err := e.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{TTY: spec.Tty, ConsoleSize: consoleSize(spec.Stdio)})
	if err != nil {
		return -1, wrap(err, what)
	}
	defer att.Close()
	rctx, stopResize := context.WithCancel(ctx)
	defer stopResize()
	// API 1.41 ignores the size given at create: set it once started.
	e.followSize(rctx, spec.Stdio, func(ctx context.Context, s drivers.Size) error {
		_, err := e.cli.ExecResize(ctx, created.ID, client.ExecResizeOptions{Height: s.Rows, Width: s.Cols})
		return err
	})
	if err := pump(ctx, att.HijackedResponse, spec.Stdio); err != nil {
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	// The stream ended: the command exited or is about to.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	code, err := e.exitCode(ictx, created.ID)
	if err != nil {
		return -1, wrap(err, what)
	}
	return code, nil
}

// RunOnce creates spec's container attached to spec's streams, starts it,
// waits for its exit and removes it whatever happened, as `docker run
// --rm [-i] [-t]` does. On cancel the container is stopped (its stop
// signal, then SIGKILL after its stop timeout) before it is removed.
func (e *Engine) RunOnce(ctx context.Context, spec drivers.RunSpec) (int, error) {
	name := spec.Container.Name
	what := "run container " + name
	opts, err := createOptions(spec.Container)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	opts.Config.Tty = spec.Tty
	opts.Config.AttachStdin = spec.Stdin != nil
	opts.Config.AttachStdout, opts.Config.AttachStderr = true, true
	// The command's stdin ends when ours does, as with docker run -i.
	opts.Config.OpenStdin, opts.Config.StdinOnce = spec.Stdin != nil, spec.Stdin != nil
	if err := e.create(ctx, "create container "+name, opts); err != nil {
		return -1, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		e.Remove(rctx, name) // force: a container still running goes too
	}()

	att, err := e.cli.ContainerAttach(ctx, name, client.ContainerAttachOptions{
		Stream: true, Stdin: spec.Stdin != nil, Stdout: true, Stderr: true,
	})
	if err != nil {
		return -1, wrap(err, "attach to container "+name)
	}
	defer att.Close()
	// Asked before the start, so an exit that comes at once is not missed.
	wctx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWait()
	wait := e.cli.ContainerWait(wctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := e.cli.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
		if code := startFailure(err); code != 0 {
			fmt.Fprintln(orDiscard(spec.Stderr), err)
			return code, nil
		}
		return -1, wrap(err, "start container "+name)
	}
	rctx, stopResize := context.WithCancel(ctx)
	defer stopResize()
	e.followSize(rctx, spec.Stdio, func(ctx context.Context, s drivers.Size) error {
		_, err := e.cli.ContainerResize(ctx, name, client.ContainerResizeOptions{Height: s.Rows, Width: s.Cols})
		return err
	})
	if err := pump(ctx, att.HijackedResponse, spec.Stdio); err != nil {
		if ctx.Err() != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spec.Container.StopTimeout+30*time.Second)
			defer cancel()
			if serr := e.Stop(sctx, name, spec.Container.StopTimeout); serr != nil {
				return -1, fmt.Errorf("%s: %w; %v", what, err, serr)
			}
		}
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	select {
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return -1, fmt.Errorf("%s: %s", what, r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-wait.Error:
		return -1, wrap(err, "wait for container "+name)
	case <-time.After(30 * time.Second):
		return -1, fmt.Errorf("%s: its output ended but the engine did not report its exit in 30s", what)
	}
}

// pump copies s.Stdin to the attached command and its output to s's
// writers until the output ends; cancelling ctx cuts the connection.
func pump(ctx context.Context, att client.HijackedResponse, s drivers.Stdio) error {
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()
	if s.Stdin != nil {
		go func() {
			// A read blocked on the caller's stdin outlives the command;
			// its next write fails on the closed connection.
			io.Copy(att.Conn, s.Stdin)
			att.CloseWrite() // the command reads EOF
		}()
	}
	var err error
	if s.Tty {
		_, err = io.Copy(s.Stdout, att.Reader)
	} else {
		_, err = stdcopy.StdCopy(s.Stdout, orDiscard(s.Stderr), att.Reader)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("reading output: %w", err)
	}
	return nil
}

// followSize sets the command's terminal to s.Size now and to each size
// s.Resize sends until ctx is done. A failed resize only leaves the old
// size, so it is not an error of the session.
func (e *Engine) followSize(ctx context.Context, s drivers.Stdio, resize func(context.Context, drivers.Size) error) {
	if !s.Tty {
		return
	}
	if s.Size != (drivers.Size{}) {
		// The command may not have started yet: try a few times.
		for i := 0; i < 5; i++ {
			err := resize(ctx, s.Size)
			if err == nil || errors.Is(ctx.Err(), context.Canceled) {
				break
			}
			time.Sleep(10 * time.Millisecond << i)
		}
	}
	if s.Resize == nil {
		return
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case size, ok := <-s.Resize:
				if !ok {
					return
				}
				resize(ctx, size)
			}
		}
	}()
}

func consoleSize(s drivers.Stdio) client.ConsoleSize {
	if !s.Tty {
		return client.ConsoleSize{}
	}
	return client.ConsoleSize{Height: s.Size.Rows, Width: s.Size.Cols}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// startFailure is the exit code `docker run` gives a command the engine
// could not start: 127 not found, 126 not executable; 0 for other errors.
func startFailure(err error) int {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied") || strings.Contains(msg, "is a directory"):
		return 126
	}
	return 0
}
