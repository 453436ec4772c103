// Package shell is `luma exec` without the CLI: it runs a command attached
// to the caller's streams in a running container of an app's active color
// (the color luma-proxy's deploy record says serves), or in a one-off
// container of the active release with the app's configuration, and
// passes the command's exit code back. cmd/luma parses flags, connects the
// server and owns the terminal.
package shell

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/naming"
)

// Engine is what a session needs of the server's engine.
type Engine interface {
	drivers.Containers
	drivers.Sessions
}

// Options are one `luma exec`, resolved by the caller (see Server and
// Replica for the checks of its flags).
type Options struct {
	Config *config.Config
	App    *config.App
	Server string // one of App.Servers
	// Replica is the container of the active color to exec in, from 1;
	// not used with New.
	Replica int
	// New runs Cmd in a one-off container of the active release instead.
	New bool
	Cmd []string
	// Env is the app's environment, secrets included, for New: it goes
	// to the engine's create call only, never into argv, labels or errors.
	Env    []string
	Stdio  drivers.Stdio
	Engine Engine
	Store  drivers.Store
}

// UsageError is a flag or argument that names no server or container of
// the app: nothing ran.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// NotDeployedError says the app has no active color on the server.
type NotDeployedError struct{ App, Server string }

func (e *NotDeployedError) Error() string {
	return fmt.Sprintf("%s is not deployed on %s: run `luma deploy %s` first", e.App, e.Server, e.App)
}

// Server is the server named by --server (name), which must be one of
// the app's, or the app's first when name is "".
func Server(a *config.App, name string) (string, error) {
	if name == "" {
		return a.Servers[0], nil
	}
	for _, s := range a.Servers {
		if s == name {
			return s, nil
		}
	}
	return "", &UsageError{fmt.Sprintf("%s does not run on %s (its servers: %s)", a.Name, name, strings.Join(a.Servers, ", "))}
}

// Replica checks --replica n against the app's replicas.
func Replica(a *config.App, n int) error {
	if n < 1 || n > a.Replicas {
		return &UsageError{fmt.Sprintf("--replica %d: %s has replicas 1 to %d", n, a.Name, a.Replicas)}
	}
	return nil
}

// Run runs the command and returns its exit code (0..255, 126 or 127
// when the engine cannot run it); an error means it did not run to its
// end: a *NotDeployedError, a container that is not running, an
// unreachable engine or proxy, or ctx cancelled.
func Run(ctx context.Context, opts Options) (int, error) {
	a := opts.App
	color, names, err := activeSet(ctx, opts)
	if err != nil {
		return -1, err
	}
	if opts.New {
		return runOneOff(ctx, opts, color, names)
	}
	if err := Replica(a, opts.Replica); err != nil {
		return -1, err
	}
	name := names[opts.Replica-1]
	if _, err := running(ctx, opts, color, name); err != nil {
		return -1, err
	}
	return opts.Engine.Attach(ctx, name, drivers.ExecSpec{Cmd: opts.Cmd, Stdio: opts.Stdio})
}

// activeSet is the color luma-proxy's deploy record says serves the app
// on the server, and its containers' names as the record has them: names
// change (issue 14 put the project in them), and a set deployed under the
// old ones serves until the next deploy.
func activeSet(ctx context.Context, opts Options) (string, []string, error) {
	rec, err := opts.Store.Load(ctx, opts.Config.Name, opts.App.Name)
	if errors.Is(err, drivers.ErrNotFound) {
		return "", nil, &NotDeployedError{App: opts.App.Name, Server: opts.Server}
	}
	if err != nil {
		return "", nil, fmt.Errorf("[%s] read the deploy record of %s: %w", opts.Server, opts.App.Name, err)
	}
	if rec.Active != naming.Blue && rec.Active != naming.Green {
		return "", nil, &NotDeployedError{App: opts.App.Name, Server: opts.Server}
	}
	names := rec.Old // a deploy that rolled back: the old set serves
	if rec.ToColor == rec.Active {
		names = rec.New
	}
	if len(names) < opts.App.Replicas {
		names = naming.AppContainers(opts.Config.Name, opts.App.Name, rec.Active, opts.App.Replicas)
	}
	return rec.Active, names, nil
}

// running inspects a container of the active color, which must run.
func running(ctx context.Context, opts Options, color, name string) (drivers.Container, error) {
	c, err := opts.Engine.Inspect(ctx, name)
	if errors.Is(err, drivers.ErrNotFound) {
		return c, fmt.Errorf("[%s] %s of %s's active color (%s) is missing: run `luma deploy %s`", opts.Server, name, opts.App.Name, color, opts.App.Name)
	}
	if err != nil {
		return c, fmt.Errorf("[%s] %w", opts.Server, err)
	}
	if !c.Running() {
		return c, fmt.Errorf("[%s] %s of %s's active color (%s) is not running (%s, exit code %d): see `luma status %s`",
			opts.Server, name, opts.App.Name, color, c.State, c.ExitCode, opts.App.Name)
	}
	return c, nil
}

// runOneOff runs the command in a new container of the image the active
// color's first running container runs (exactly the serving release,
// even if its tag moved since), with the app's configuration.
func runOneOff(ctx context.Context, opts Options, color string, names []string) (int, error) {
	a := opts.App
	var from drivers.Container
	var err error
	for _, name := range names {
		if from, err = running(ctx, opts, color, name); err == nil {
			break
		}
	}
	if err != nil {
		return -1, err
	}
	// The volumes the serving container mounts, by the same rule.
	vols, _ := naming.Volumes(opts.Config.Name, a.Volumes, from.Volumes)
	spec := drivers.ContainerSpec{
		Name:  naming.OneOffContainer(a.Name),
		Image: from.ImageID,
		// No LabelApp: deploys, status and pruning must never count it.
		Labels:      map[string]string{naming.LabelProject: opts.Config.Name, naming.LabelOneOff: a.Name},
		Env:         opts.Env,
		Cmd:         opts.Cmd,
		Network:     naming.Network(opts.Config.Name),
		Volumes:     vols,
		StopSignal:  "SIGTERM",
		StopTimeout: a.StopTimeout,
		Restart:     "no",
	}
	return opts.Engine.RunOnce(ctx, drivers.RunSpec{Container: spec, Stdio: opts.Stdio})
}
