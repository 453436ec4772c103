package main

import (
	"fmt"
	"log/slog"
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
	var logFormat string
	run := &cobra.Command{
		Use:   "run",
		Short: "Serve HTTP and the admin socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch logFormat {
			case "text":
				opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			case "json":
				opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
			default:
				return exitWith(exitUsage, fmt.Errorf("--log-format %q: want text or json", logFormat))
			}
			if proxy.IsChild() {
				h, err := proxy.ChildHandover()
				if err != nil {
					return err
				}
				opts.Handover = h
				ctx, stop := proxy.ChildContext(cmd.Context(), h)
				defer stop()
				return proxy.Run(ctx, opts)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// PID 1 of the container: it holds the sockets and runs the
			// proxy as its child (proxy/supervisor.go).
			self, err := os.Executable()
			if err != nil {
				return err
			}
			return proxy.Supervise(ctx, proxy.SuperviseOptions{Options: opts, Self: self, Args: os.Args[1:]})
		},
	}
	run.Flags().StringVar(&logFormat, "log-format", "text", "log lines as text (key=value) or json")
	run.Flags().StringVar(&opts.HTTPAddr, "http", ":80", "HTTP listen address")
	run.Flags().StringVar(&opts.HTTPSAddr, "https", ":443", "HTTPS listen address (\"\": none)")
	run.Flags().StringVar(&opts.StatePath, "state", protocol.StatePath, "state file")
	run.Flags().StringVar(&opts.SocketPath, "socket", protocol.SocketPath, "admin socket")
	var session bool
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Relay one JSON admin request from stdin to the running proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if session {
				return proxy.Session(cmd.Context(), protocol.SocketPath, os.Stdin, os.Stdout)
			}
			return proxy.Admin(cmd.Context(), protocol.SocketPath, os.Stdin, os.Stdout)
		},
	}
	admin.Flags().BoolVar(&session, "session", false, "relay newline-delimited requests with IDs until stdin ends, concurrently")
	cmd.AddCommand(run, admin)
	return cmd
}
