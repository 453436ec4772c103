package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/logs"
)

type logsOptions struct {
	app        string
	server     string
	follow     bool
	since      string
	tail       int
	timestamps bool
	all        bool
	proxy      bool
	json       bool
}

func newLogsCmd(g *globals) *cobra.Command {
	opts := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs APP | --proxy",
		Short: "Show an app's container logs from every server, or luma-proxy's",
		Long: `Show the logs (stdout and stderr) of an app's containers of the active color
on every server of the app, each line prefixed [server container] and merged
by time. With -f, follow them as they come, and follow the new containers a
deploy starts; Ctrl-C ends it. --proxy shows luma-proxy's own log.`,
		Example: `  luma logs blog --tail 100
  luma logs blog -f --server web1
  luma logs blog --since 10m --timestamps
  luma logs --proxy --since 2025-01-02T15:04:05Z`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.proxy && len(args) > 0:
				return exitWith(exitUsage, errors.New("--proxy shows luma-proxy's log: name no app"))
			case !opts.proxy && len(args) != 1:
				return exitWith(exitUsage, errors.New("name one app, e.g. `luma logs blog`, or --proxy"))
			}
			return nil
		},
		ValidArgsFunction: completeApp(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.app = args[0]
			}
			return runLogs(cmd.Context(), g, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.server, "server", "", "only this server of the app")
	f.BoolVarP(&opts.follow, "follow", "f", false, "print new lines as they come, across deploys, until Ctrl-C")
	f.StringVar(&opts.since, "since", "", "only lines since a duration ago (10m) or an RFC 3339 time")
	f.IntVar(&opts.tail, "tail", -1, "only the last N lines of each container (-1: all)")
	f.BoolVar(&opts.timestamps, "timestamps", false, "print each line's time")
	f.BoolVar(&opts.all, "all", false, "also stopped containers and those of the old color still present")
	f.BoolVar(&opts.proxy, "proxy", false, "luma-proxy's own log instead of an app's")
	f.BoolVar(&opts.json, "json", false, "print one JSON object per line for scripts")
	cmd.RegisterFlagCompletionFunc("server", completeServers(g))
	return cmd
}

func runLogs(parent context.Context, g *globals, opts *logsOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	o := logs.Options{Project: cfg.Name, App: opts.app, Proxy: opts.proxy, All: opts.all, Follow: opts.follow, Tail: max(opts.tail, -1)}
	if opts.since != "" {
		if o.Since, err = logs.ParseSince(opts.since, time.Now()); err != nil {
			return exitWith(exitUsage, err)
		}
	}
	names, err := logsServers(cfg, opts)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := fleet.Connect(ctx, cfg, names)
	if err != nil {
		return fmt.Errorf("cannot reach every server:\n%w", err)
	}
	defer f.Close()
	for _, name := range f.Names() {
		s := f.Get(name)
		o.Servers = append(o.Servers, logs.Server{Name: name, Engine: s.Engine, Proxy: s.Proxy})
	}
	o.Print = logPrinter(g, opts)
	err = logs.Run(ctx, o)
	if errors.Is(err, syscall.EPIPE) {
		return nil // its reader went away (luma logs -f | head): done
	}
	if err != nil && ctx.Err() != nil && parent.Err() == nil {
		return exitWith(exitInterrupted, nil)
	}
	return err
}

// logsServers are the servers to read: the app's, or with --proxy the
// project's, or only --server, which must be one of them.
func logsServers(cfg *config.Config, opts *logsOptions) ([]string, error) {
	what, servers := "the project", cfg.Servers()
	if !opts.proxy {
		apps, err := selectApps(cfg, []string{opts.app})
		if err != nil {
			return nil, err
		}
		what, servers = fmt.Sprintf("app %q", opts.app), apps[0].Servers
	}
	names, err := logs.SelectServers(what, servers, opts.server)
	if err != nil {
		return nil, exitWith(exitUsage, err)
	}
	return names, nil
}

// logPrinter prints a line as "[server container] text", the prefix in
// cyan on a terminal, or as one JSON object.
func logPrinter(g *globals, opts *logsOptions) func(logs.Line) error {
	if opts.json {
		enc := json.NewEncoder(g.stdout) // one write per object
		return func(l logs.Line) error {
			return enc.Encode(logJSON{Server: l.Server, Container: l.Container, Time: l.Time, Stream: l.Stream, Line: l.Text})
		}
	}
	return func(l logs.Line) error {
		s := g.out.paint(ansiCyan, "["+l.Server+" "+l.Container+"]") + " "
		if opts.timestamps {
			s += l.Time.UTC().Format(time.RFC3339Nano) + " "
		}
		return g.out.line(s + l.Text)
	}
}

// logJSON is one line of `luma logs --json`.
type logJSON struct {
	Server    string    `json:"server"`
	Container string    `json:"container"`
	Time      time.Time `json:"time"`
	Stream    string    `json:"stream"`
	Line      string    `json:"line"`
}
