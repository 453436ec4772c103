package drivers

import (
	"context"
	"time"
)

// Logs reads containers' logs on one server (`luma logs`). It is apart
// from Engine so that a deploy, which never reads logs, does not need it.
type Logs interface {
	// Logs opens the log of container: its stdout and stderr lines in the
	// order they were written, each with the engine's time. A missing
	// container is ErrNotFound. The stream ends (io.EOF) at the end of
	// the log, or with Follow once the container stops or is removed;
	// cancelling ctx ends it with ctx's error.
	Logs(ctx context.Context, container string, opts LogOptions) (LogStream, error)
}

// AllLines is the LogOptions.Tail that keeps the whole log.
const AllLines = -1

// LogOptions says which lines of a log to read.
type LogOptions struct {
	// Tail is how many of the last lines to read (0: none, only new lines
	// when following); AllLines reads them all.
	Tail int
	// Since leaves out lines written before it; zero keeps them.
	Since time.Time
	// Follow waits for new lines until the container stops.
	Follow bool
}

// LogLine is one line of a container's log.
type LogLine struct {
	Time   time.Time // when the engine took it
	Stream string    // "stdout" or "stderr" (a TTY container's is stdout)
	Text   string    // without its line ending
}

// Streams of a LogLine.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// LogStream is an open log, read one line at a time. Next and Close may
// be called from different goroutines.
type LogStream interface {
	// Next returns the next line; io.EOF at the end.
	Next() (LogLine, error)
	// Close releases the stream; a Next waiting for a line returns.
	Close() error
}
