package drivers

import (
	"context"
	"io"
)

// Size is a terminal's size in character cells.
type Size struct{ Rows, Cols uint }

// Stdio is how an attached command meets the caller: its streams and,
// with a TTY, its terminal.
type Stdio struct {
	// Tty gives the command a terminal: its output is one stream (to
	// Stdout), and the terminal turns a Ctrl-C typed into Stdin into
	// SIGINT for the command.
	Tty bool
	// Stdin is copied to the command's stdin, which is closed at its EOF;
	// nil: the command gets no stdin.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output, demultiplexed.
	Stdout, Stderr io.Writer
	// Size is the terminal's size at start, Resize its later sizes (nil:
	// it never changes). Both only with Tty.
	Size   Size
	Resize <-chan Size
}

// ExecSpec is a command to run in a running container.
type ExecSpec struct {
	Cmd []string
	Stdio
}

// RunSpec is a one-off container: created from Container (whose Cmd is
// the command), attached, started, waited for and removed.
type RunSpec struct {
	Container ContainerSpec // Env holds secrets: never log it
	Stdio
}

// Sessions runs commands attached to the caller's streams, as `docker
// exec` and `docker run --rm` do. The exit code is the command's, 0..255
// (126 and 127 when it cannot be run, the engine's reason on Stderr); an
// error means luma could not run it or follow it to its end.
type Sessions interface {
	// Attach runs spec.Cmd in the running container until it exits.
	// Cancelling ctx cuts the session, which closes the command's stdin:
	// the engine has no way to signal an exec'd process, so one that
	// ignores EOF runs on (with a TTY, a Ctrl-C typed reaches it).
	Attach(ctx context.Context, container string, spec ExecSpec) (int, error)
	// RunOnce runs the one-off container until it exits, then removes it
	// whatever happened, also when ctx is cancelled (the container is
	// stopped first).
	RunOnce(ctx context.Context, spec RunSpec) (int, error)
}
