package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/luma-deploy/luma/proxy"
	"github.com/luma-deploy/luma/proxy/protocol"
	"github.com/spf13/cobra"
)

// newProxyCmd holds the commands luma-proxy runs inside its container. The
// proxy image is this same binary, so no registry is needed.
func newProxyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "proxy",
		Short:  "Commands run inside the luma-proxy container",
		Hidden: true,
	}
	opts := proxy.Options{}
	run := &cobra.Command{
		Use:   "run",
		Short: "Serve HTTP and the admin socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return proxy.Run(ctx, opts)
		},
	}
	run.Flags().StringVar(&opts.HTTPAddr, "http", ":80", "HTTP listen address")
	run.Flags().StringVar(&opts.StatePath, "state", protocol.StatePath, "state file")
	run.Flags().StringVar(&opts.SocketPath, "socket", protocol.SocketPath, "admin socket")
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Relay one JSON admin request from stdin to the running proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return proxy.Admin(cmd.Context(), protocol.SocketPath, os.Stdin, os.Stdout)
		},
	}
	cmd.AddCommand(run, admin)
	return cmd
}
