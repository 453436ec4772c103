package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/deploy"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/history"
	"github.com/luma-deploy/luma/internal/rollback"
)

func newRollbackCmd(g *globals) *cobra.Command {
	opts := &deployOptions{rollback: true}
	cmd := &cobra.Command{
		Use:   "rollback APP",
		Short: "Deploy the release before the current one (or --to RELEASE) with zero downtime",
		Long: `Rollback deploys an earlier release of an app through the same blue-green
deploy as any release: health checks, one switch on every server, and an
automatic rollback if the old release no longer starts. It runs the image
that release ran (instant when the servers still hold it: pruning keeps the
last keep_releases) with the app's configuration as luma.yml says now.

Without --to it goes to the release that served before the current one;
rolling back again goes one further back. ` + "`luma releases APP`" + ` lists the
releases to choose from.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeApp(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			return runDeploy(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.to, "to", "", "the release to go back to (default: the one before the current)")
	runFlags(cmd, opts)
	return cmd
}

// planRollback picks the release and image of a rollback of a, and says
// so, before anything changes.
func planRollback(ctx context.Context, cfg *config.Config, a *config.App, f *fleet.Fleet, to string, out *printer) (string, map[string]deploy.Pinned, error) {
	var servers []rollback.Server
	for _, name := range a.Servers {
		s := f.Get(name)
		servers = append(servers, rollback.Server{Name: name, Image: s.Engine, Proxy: s.Proxy})
	}
	p, err := rollback.Make(ctx, cfg.Name, a.Name, servers, to)
	if errors.Is(err, history.ErrUnknownRelease) {
		return "", nil, exitWith(exitUsage, fmt.Errorf("%s\nnothing was changed", strings.TrimPrefix(err.Error(), history.ErrUnknownRelease.Error()+": ")))
	}
	if err != nil {
		return "", nil, fmt.Errorf("%w\nnothing was changed", err)
	}
	out.Println("Rolling back %s from %s to %s (image %s)", a.Name, p.Current, p.Target, p.Ref)
	if len(p.Differs) > 0 {
		out.Println("Not every server serves %s: %s", p.Current, strings.Join(p.Differs, "; "))
	}
	if len(p.Missing) == 0 {
		out.Println("Image of %s is on every server: no transfer", p.Target)
	} else {
		out.Println("Image of %s is missing on %s: it is sent or pulled there first", p.Target, strings.Join(p.Missing, ", "))
	}
	return p.Target, map[string]deploy.Pinned{a.Name: {Image: p.Image, Ref: p.Ref}}, nil
}
