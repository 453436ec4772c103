package main

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/history"
	"github.com/luma-deploy/luma/internal/status"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	apps    []string
	json    bool
	history bool
	limit   int
	// allProjects: every project luma-proxy serves (status_projects.go).
	allProjects bool
	server      string
}

func newStatusCmd(g *globals) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:               "status [app...]",
		Short:             "Show where every app stands: active color, replicas, releases, deploys in progress",
		ValidArgsFunction: completeApps(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			if opts.history {
				return runHistory(cmd.Context(), g, opts)
			}
			if opts.allProjects {
				return runAllProjects(cmd.Context(), g, opts)
			}
			return runStatus(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON for scripts")
	cmd.Flags().BoolVar(&opts.history, "history", false, "show the project's audit log instead: deploys, rollbacks, removals, setups, lock releases")
	cmd.Flags().IntVarP(&opts.limit, "limit", "n", 20, "with --history: the newest N entries (0: all kept)")
	cmd.Flags().BoolVar(&opts.allProjects, "all-projects", false, "show every project luma-proxy serves on the project's servers, not only this one")
	cmd.Flags().StringVar(&opts.server, "server", "", "with --all-projects: only this server")
	cmd.RegisterFlagCompletionFunc("server", completeServers(g))
	return cmd
}

// runHistory is `luma status --history`: the audit log of the project
// (or of the apps named) on its servers, newest first.
func runHistory(ctx context.Context, g *globals, opts *statusOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	apps, err := selectApps(cfg, opts.apps)
	if err != nil {
		return err
	}
	names := cfg.Servers()
	if len(opts.apps) > 0 {
		names = serversOf(apps)
	}
	f, err := connectServers(ctx, g, cfg, names)
	if err != nil {
		return err
	}
	defer f.Close()
	events, err := readEvents(ctx, f, cfg.Name)
	if err != nil {
		return err
	}
	runs := history.Merge(events)
	if len(opts.apps) > 0 {
		runs = slices.DeleteFunc(runs, func(r history.Run) bool { return !slices.Contains(opts.apps, r.App) })
	}
	if opts.limit > 0 && len(runs) > opts.limit {
		runs = runs[:opts.limit]
	}
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"project": cfg.Name, "history": nonNil(runs)})
	}
	if len(runs) == 0 {
		g.out.Println("No history of %s on %s yet.", cfg.Name, strings.Join(f.Names(), ", "))
		return nil
	}
	return printRuns(g.stdout, runs, true, nil)
}

func runStatus(ctx context.Context, g *globals, opts *statusOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	apps, err := selectApps(cfg, opts.apps)
	if err != nil {
		return err
	}
	names := serversOf(apps)
	var svcs []config.Service
	if len(opts.apps) == 0 { // status of the whole project: services too
		svcs = cfg.Services
		names = cfg.Servers()
	}
	readings := status.Read(ctx, connectForStatus(cfg), cfg.Name, names, fleet.MaxParallel)
	var out []status.App
	for _, a := range apps {
		var inputs []status.ServerInput
		for _, s := range a.Servers {
			inputs = append(inputs, readings[s].Input(s, cfg.Name, a.Name))
		}
		out = append(out, status.Of(a.Name, a.Replicas, inputs, time.Now()))
	}
	services := []status.Service{}
	for _, s := range svcs {
		services = append(services, status.ServiceOf(s.Name, s.Image, s.Servers, readings))
	}
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"project": cfg.Name, "apps": out, "services": services})
	}
	for i, a := range out {
		if i > 0 {
			g.out.Println("")
		}
		var b strings.Builder
		status.Text(&b, a, time.Now())
		g.out.Println("%s", b.String())
	}
	for _, s := range services {
		g.out.Println("")
		g.out.Println("🧩 Service: %s (%s)", s.Service, s.Image)
		for _, srv := range s.Servers {
			g.out.Println("   [%s] %s", srv.Name, srv.State)
		}
	}
	return nil
}

// connectForStatus reaches one server over the fleet's transport; its
// error reads without the server's name, which the status line shows.
func connectForStatus(cfg *config.Config) status.Connect {
	return func(ctx context.Context, name string) (drivers.Containers, drivers.Proxy, func(), error) {
		f, err := fleet.Connect(ctx, cfg, []string{name})
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "["+name+"] ")
			return nil, nil, nil, errors.New(strings.TrimPrefix(msg, name+": "))
		}
		s := f.Get(name)
		return s.Engine, s.Proxy, f.Close, nil
	}
}
