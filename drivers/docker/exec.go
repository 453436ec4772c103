package docker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Exec runs cmd in a running container with stdin and returns its stdout; a
// non-zero exit is an error carrying the trimmed stderr. It costs three
// calls (create, attach, inspect) and runs on every proxy admin call.
func (e *Engine) Exec(ctx context.Context, ctr string, cmd []string, stdin []byte) ([]byte, error) {
	id, att, what, err := e.startExec(ctx, ctr, cmd, stdin != nil)
	if err != nil {
		return nil, err
	}
	defer att.Close()
	// The hijacked stream outlives the request's context: close it on cancel.
	stop := context.AfterFunc(ctx, att.Close)
	defer stop()

	writeErr := make(chan error, 1)
	if stdin != nil {
		go func() {
			_, err := io.Copy(att.Conn, bytes.NewReader(stdin))
			if cerr := att.CloseWrite(); err == nil {
				err = cerr
			}
			writeErr <- err
		}()
	} else {
		writeErr <- nil
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, att.Reader); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return nil, fmt.Errorf("%s: reading output: %w", what, err)
	}
	if err := <-writeErr; err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%s: writing input: %w", what, err)
	}

	code, err := e.exitCode(ctx, id)
	if err != nil {
		return nil, wrap(err, what)
	}
	return stdout.Bytes(), exitError(what, code, stderr.String())
}

// startExec creates cmd in ctr and starts it attached.
func (e *Engine) startExec(ctx context.Context, ctr string, cmd []string, stdin bool) (string, client.ExecAttachResult, string, error) {
	what := fmt.Sprintf("exec %s in %s", cmdName(cmd), ctr)
	created, err := e.cli.ExecCreate(ctx, ctr, client.ExecCreateOptions{
		Cmd:          cmd,
		AttachStdin:  stdin,
		AttachStdout: true,
		AttachStderr: true,
	})
	if isConflict(err) {
		// 409 here means the container is not running, not a name clash.
		return "", client.ExecAttachResult{}, what, fmt.Errorf("%s: %v", what, err)
	}
	if err != nil {
		return "", client.ExecAttachResult{}, what, wrap(err, what)
	}
	att, err := e.cli.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", client.ExecAttachResult{}, what, wrap(err, what)
	}
	return created.ID, att, what, nil
}

// exitError is nil for code 0, else the code with the end of stderr.
func exitError(what string, code int, stderr string) error {
	if code == 0 {
		return nil
	}
	msg := strings.TrimSpace(stderr)
	if len(msg) > 4096 {
		msg = "..." + msg[len(msg)-4096:]
	}
	if msg == "" {
		return fmt.Errorf("%s: exit code %d", what, code)
	}
	return fmt.Errorf("%s: exit code %d: %s", what, code, msg)
}

// exitCode waits for the exec to be reported finished: its streams can end
// a moment before the Engine records the exit.
func (e *Engine) exitCode(ctx context.Context, id string) (int, error) {
	for delay := time.Millisecond; ; delay *= 2 {
		r, err := e.cli.ExecInspect(ctx, id, client.ExecInspectOptions{})
		if err != nil {
			return 0, err
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(min(delay, 100*time.Millisecond)):
		}
	}
}

// cmdName names a command in messages without its arguments, which may hold
// anything.
func cmdName(cmd []string) string {
	if len(cmd) == 0 {
		return "(default)"
	}
	return cmd[0]
}
