// Package logs is `luma logs`: the logs of an app's containers (or of
// luma-proxy) on every server, merged by time, or followed across deploys.
// It reads through drivers.Logs only, so the fake drives its tests.
package logs

import (
	"context"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// Engine is what logs reads on one server.
type Engine interface {
	List(ctx context.Context, labels map[string]string) ([]drivers.Container, error)
	drivers.Logs
}

// Records is luma-proxy's store of deploy records: the active color.
type Records interface {
	Load(ctx context.Context, project, app string) (machine.Record, error)
}

// Server is one connected server.
type Server struct {
	Name   string
	Engine Engine
	Proxy  Records // unused with Options.Proxy
}

// Line is one log line of one container on one server.
type Line struct {
	Server    string
	Container string
	drivers.LogLine
}

// Options is one run of `luma logs`.
type Options struct {
	Project string
	App     string
	// Proxy reads luma-proxy's own log instead of an app's.
	Proxy   bool
	Servers []Server
	// All reads every container of the app still present, stopped or of
	// the old color, not only the active color's.
	All bool
	// Tail is how many of each container's last lines to read;
	// drivers.AllLines for all.
	Tail  int
	Since time.Time // zero: from the start
	// Follow prints lines as they come, and the lines of containers that
	// start meanwhile (a deploy's), until ctx is done.
	Follow bool
	// Poll is how often Follow looks for new containers (1 s when 0).
	Poll time.Duration
	// Print is called with each line, one call at a time; an error ends
	// the run with it (stdout closed).
	Print func(Line) error
}

// Run prints the logs. Without Follow, lines of every container on every
// server come merged by time; with it, Run returns nil once ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Follow {
		return o.follow(ctx)
	}
	return o.merge(ctx)
}

func (o *Options) logOptions() drivers.LogOptions {
	return drivers.LogOptions{Tail: o.Tail, Since: o.Since, Follow: o.Follow}
}

func (o *Options) poll() time.Duration {
	if o.Poll > 0 {
		return o.Poll
	}
	return time.Second
}
