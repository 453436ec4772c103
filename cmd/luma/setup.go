package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/setup"
	"github.com/spf13/cobra"
)

type setupOptions struct {
	servers         []string
	restartServices bool
	dryRun          bool
	allowDowngrade  bool
}

func newSetupCmd(g *globals) *cobra.Command {
	opts := &setupOptions{}
	cmd := &cobra.Command{
		Use:   "setup [server...]",
		Short: "Prepare servers: check the engine, create the network, start luma-proxy and the services",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.servers = args
			return runSetup(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.restartServices, "restart-services", false, "recreate services whose configuration changed (brief downtime; volumes are kept)")
	cmd.Flags().BoolVar(&opts.dryRun, "dry-run", false, "say what would change on each server's luma-proxy and why; change nothing")
	cmd.Flags().BoolVar(&opts.allowDowngrade, "allow-downgrade", false, "replace a luma-proxy that a newer luma set up with this luma's (refused otherwise)")
	return cmd
}

func runSetup(ctx context.Context, g *globals, opts *setupOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	names := opts.servers
	if len(names) == 0 {
		names = cfg.Servers()
	}
	for _, n := range names {
		if !slices.Contains(cfg.Servers(), n) {
			return exitWith(exitUsage, fmt.Errorf("server %q is not in %s (servers: %v)", n, cfg.File, cfg.Servers()))
		}
	}
	services, err := setup.ServicesByServer(cfg)
	if err != nil {
		return exitWith(exitConfig, err)
	}
	registry, err := setup.RegistryAuth(cfg)
	if err != nil {
		return exitWith(exitConfig, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := connectServers(ctx, g, cfg, names)
	if err != nil {
		return err
	}
	defer f.Close()
	// The local engine is only needed to send services' images.
	var source drivers.Images
	if len(services) > 0 {
		src, closeSource := localSource(ctx, g, f)
		defer closeSource()
		source = src
	}
	targets := make([]setup.Target, 0, len(names))
	for _, name := range f.Names() {
		s := f.Get(name)
		targets = append(targets, setup.Target{Name: name, Engine: s.Engine, Proxy: s.Proxy})
	}
	return setup.Run(ctx, setup.RunOptions{
		Config: cfg, Servers: targets, Services: services, Source: source, Exe: exe,
		DefaultProxyImage: setup.PublishedProxyImage(version()), Registry: registry,
		Holder: naming.Holder() + " (setup)", RestartServices: opts.restartServices, DryRun: opts.dryRun, AllowDowngrade: opts.allowDowngrade,
		Limit: fleet.MaxParallel, Out: g.out,
	})
}
