package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/status"
	"github.com/spf13/cobra"
)

type statusOptions struct {
	apps []string
	json bool
}

func newStatusCmd(g *globals) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [app...]",
		Short: "Show where every app stands: active color, replicas, releases, deploys in progress",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			return runStatus(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON for scripts")
	return cmd
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
