package docker

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

// ExecStream runs cmd in a running container with stdin and stdout
// streamed over one hijacked connection, so a command that answers many
// requests (`luma proxy admin --session`) costs the create and attach once.
// ctx bounds the whole stream: cancelling it closes the connection.
func (e *Engine) ExecStream(ctx context.Context, ctr string, cmd []string) (drivers.ExecSession, error) {
	id, att, what, err := e.startExec(ctx, ctr, cmd, true)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	s := &execStream{att: att, stdout: pr, done: make(chan struct{})}
	stop := context.AfterFunc(ctx, att.Close)
	go func() {
		defer close(s.done)
		stderr := &stderrTail{max: 4096}
		_, err := stdcopy.StdCopy(pw, stderr, att.Reader)
		cut := !stop() // ctx closed the connection
		att.Close()
		switch {
		case cut:
			err = fmt.Errorf("%s: %w", what, ctx.Err())
		case err != nil:
			err = fmt.Errorf("%s: reading output: %w", what, err)
		}
		pw.CloseWithError(err) // nil: EOF
		if err != nil {
			s.err = err
			return
		}
		// The streams ended: the command exited or is about to.
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		code, err := e.exitCode(ictx, id)
		if err != nil {
			s.err = wrap(err, what)
			return
		}
		s.err = exitError(what, code, stderr.String())
	}()
	return s, nil
}

// execStream is one command under ExecStream. Writes are not safe for
// concurrent use: callers send whole lines one at a time.
type execStream struct {
	att       client.ExecAttachResult
	stdout    *io.PipeReader
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
	err       error // set before done is closed
}

func (s *execStream) Write(p []byte) (int, error) { return s.att.Conn.Write(p) }

// Close ends the command's stdin; its stdout stays open until it exits.
func (s *execStream) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.att.CloseWrite() })
	return s.closeErr
}

func (s *execStream) Stdout() io.Reader { return s.stdout }

func (s *execStream) Wait() error {
	<-s.done
	return s.err
}

// stderrTail keeps the last max bytes written: a long-lived command's stderr
// must not grow without bound.
type stderrTail struct {
	max int
	buf []byte
}

func (t *stderrTail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *stderrTail) String() string { return string(t.buf) }
