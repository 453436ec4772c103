package main

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/setup"
	"github.com/spf13/cobra"
)

type setupOptions struct {
	servers         []string
	restartServices bool
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
	services, err := servicesByServer(cfg)
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
	base := setup.Options{Project: cfg.Name, HTTPPort: cfg.Proxy.HTTPPort, ProxyImage: cfg.Proxy.Image, Exe: exe, Holder: naming.Holder() + " (setup)"}
	return f.Each(func(s *fleet.Server) error {
		so := base
		for _, a := range cfg.Apps {
			if slices.Contains(a.Servers, s.Name) {
				so.Apps = append(so.Apps, a.Name)
			}
		}
		if err := setup.Server(ctx, s.Name, s.Engine, s.Proxy, so, g.out); err != nil {
			return err
		}
		if err := setup.Services(ctx, s.Name, s.Engine, source, services[s.Name], opts.restartServices, g.out); err != nil {
			return err
		}
		g.out.Printf(s.Name, "Ready: luma-proxy serving on port %d ✓", so.HTTPPort)
		return nil
	})
}

// servicesByServer resolves every service's environment (secrets
// included) before any server is touched, and groups them by server.
func servicesByServer(cfg *config.Config) (map[string][]setup.Service, error) {
	out := map[string][]setup.Service{}
	if len(cfg.Services) == 0 {
		return out, nil
	}
	secrets := map[string]string{}
	for _, s := range cfg.Services {
		if len(s.Environment.Secret) > 0 {
			var err error
			if secrets, err = config.LoadSecrets(cfg.SecretsPath()); err != nil {
				return nil, err
			}
			break
		}
	}
	for _, s := range cfg.Services {
		env, err := cfg.Env(s.Environment, secrets)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		svc := setup.Service{
			Project: cfg.Name, Name: s.Name, Image: s.Image, Env: env,
			PlainEnv: s.Environment.Plain, SecretNames: s.Environment.Secret,
			Cmd: s.Command, Volumes: s.Volumes, Ports: s.Ports,
		}
		for _, server := range s.Servers {
			out[server] = append(out[server], svc)
		}
	}
	return out, nil
}
