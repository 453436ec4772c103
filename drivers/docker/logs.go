package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

var _ drivers.Logs = (*Engine)(nil)

// errLogClosed is what Next returns once the stream was closed.
var errLogClosed = errors.New("log stream closed")

// maxLogLine bounds a line held while waiting for its newline: past it the
// piece so far is a line of its own.
const maxLogLine = 1 << 20

// Logs opens ctr's log. The Engine is always asked for timestamps, which
// order lines across containers; a TTY container's log is one raw stream,
// any other's is stdout and stderr multiplexed.
func (e *Engine) Logs(ctx context.Context, ctr string, opts drivers.LogOptions) (drivers.LogStream, error) {
	what := "logs of container " + ctr
	r, err := e.cli.ContainerInspect(ctx, ctr, client.ContainerInspectOptions{})
	if err != nil {
		return nil, wrap(err, what)
	}
	tty := r.Container.Config != nil && r.Container.Config.Tty
	o := client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true, Follow: opts.Follow}
	if opts.Tail >= 0 {
		o.Tail = strconv.Itoa(opts.Tail)
	}
	if !opts.Since.IsZero() {
		o.Since = opts.Since.UTC().Format(time.RFC3339Nano)
	}
	body, err := e.cli.ContainerLogs(ctx, ctr, o)
	if err != nil {
		return nil, wrap(err, what)
	}
	return readLog(ctx, body, tty), nil
}

// logStream splits a log body into lines on a goroutine of its own, so a
// caller merging many logs never blocks on one connection's read.
type logStream struct {
	body      io.ReadCloser
	lines     chan drivers.LogLine
	quit      chan struct{}
	closeOnce sync.Once
	err       error // set before lines is closed
}

func readLog(ctx context.Context, body io.ReadCloser, tty bool) *logStream {
	s := &logStream{body: body, lines: make(chan drivers.LogLine, 64), quit: make(chan struct{})}
	go func() {
		defer close(s.lines)
		stdout := &lineWriter{stream: drivers.Stdout, tty: tty, emit: s.emit}
		stderr := &lineWriter{stream: drivers.Stderr, emit: s.emit}
		var err error
		if tty {
			_, err = io.Copy(stdout, body)
		} else {
			_, err = stdcopy.StdCopy(stdout, stderr, body)
		}
		if err == nil { // a last line without its newline
			err = errors.Join(stdout.flush(), stderr.flush())
		}
		switch {
		case s.closed():
			s.err = errLogClosed
		case ctx.Err() != nil:
			s.err = ctx.Err()
		case err != nil:
			s.err = err
		default:
			s.err = io.EOF
		}
	}()
	return s
}

func (s *logStream) emit(l drivers.LogLine) error {
	select {
	case s.lines <- l:
		return nil
	case <-s.quit:
		return errLogClosed
	}
}

func (s *logStream) closed() bool {
	select {
	case <-s.quit:
		return true
	default:
		return false
	}
}

func (s *logStream) Next() (drivers.LogLine, error) {
	if l, ok := <-s.lines; ok {
		return l, nil
	}
	return drivers.LogLine{}, s.err
}

func (s *logStream) Close() error {
	s.closeOnce.Do(func() { close(s.quit) })
	return s.body.Close()
}

// lineWriter turns one demultiplexed stream into lines, each starting with
// the timestamp the Engine was asked for.
type lineWriter struct {
	stream string
	tty    bool // lines end in \r\n
	emit   func(drivers.LogLine) error
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLogLine {
				return n, w.flush()
			}
			return n, nil
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		if err := w.flush(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// flush emits what is held as one line.
func (w *lineWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	l := parseLogLine(w.stream, w.buf, w.tty)
	w.buf = w.buf[:0]
	return w.emit(l)
}

// parseLogLine splits "TIMESTAMP text" as the Engine writes it.
func parseLogLine(stream string, b []byte, tty bool) drivers.LogLine {
	if tty {
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	l := drivers.LogLine{Stream: stream, Text: string(b)}
	if ts, text, ok := bytes.Cut(b, []byte(" ")); ok {
		if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
			l.Time, l.Text = t, string(text)
		}
	}
	return l
}
