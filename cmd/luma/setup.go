package main

import (
	"os"

	"github.com/luma-deploy/luma/fleet"
	"github.com/luma-deploy/luma/setup"
	"github.com/spf13/cobra"
)

func newSetupCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "setup [server...]",
		Short: "Prepare servers: check the engine, create the network, start luma-proxy",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(g)
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				names = cfg.Servers()
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			f, err := connectServers(ctx, g, cfg, names)
			if err != nil {
				return err
			}
			defer f.Close()
			opts := setup.Options{Project: cfg.Name, HTTPPort: cfg.Proxy.HTTPPort, ProxyImage: cfg.Proxy.Image, Exe: exe}
			err = f.Each(func(s *fleet.Server) error {
				if err := setup.Server(ctx, s.Name, s.Engine, s.Proxy, opts, g.out); err != nil {
					return err
				}
				g.out.Printf(s.Name, "Ready: luma-proxy serving on port %d ✓", opts.HTTPPort)
				return nil
			})
			return err
		},
	}
}
