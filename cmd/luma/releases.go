package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/history"
)

type releasesOptions struct {
	app   string
	json  bool
	limit int
}

func newReleasesCmd(g *globals) *cobra.Command {
	opts := &releasesOptions{}
	cmd := &cobra.Command{
		Use:   "releases APP",
		Short: "Show an app's history: releases deployed and rolled back, by whom, when, how they ended",
		Long: `Releases reads the history luma-proxy keeps on each of the app's servers (the
last 50 events per app): every deploy and rollback with its release, image,
who ran it, when, how long it took and how it ended on each server, and the
app's removals and forced lock releases. (live) marks what serves now.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeApp(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.app = args[0]
			return runReleases(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON for scripts")
	cmd.Flags().IntVarP(&opts.limit, "limit", "n", 20, "show the newest N runs (0: all kept)")
	return cmd
}

func runReleases(ctx context.Context, g *globals, opts *releasesOptions) error {
	cfg, a, err := loadApp(g, opts.app)
	if err != nil {
		return err
	}
	f, err := connectServers(ctx, g, cfg, a.Servers)
	if err != nil {
		return err
	}
	defer f.Close()
	// One pass per server: its log and what it serves now.
	var mu sync.Mutex
	events, live := map[string][]drivers.Event{}, map[string]string{}
	err = f.Each(func(s *fleet.Server) error {
		ev, err := s.Proxy.Events(ctx, cfg.Name)
		if err != nil {
			return fmt.Errorf("read the history: %w", err)
		}
		rec, err := s.Proxy.Load(ctx, cfg.Name, opts.app)
		if err != nil && !errors.Is(err, drivers.ErrNotFound) {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		events[s.Name] = ev
		if err == nil && rec.Active != "" {
			live[s.Name] = rec.Release
		}
		return nil
	})
	if err != nil {
		return err
	}
	runs := history.ForApp(history.Merge(events), opts.app)
	if opts.limit > 0 && len(runs) > opts.limit {
		runs = runs[:opts.limit]
	}
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"project": cfg.Name, "app": opts.app, "live": live, "runs": nonNil(runs)})
	}
	if len(runs) == 0 {
		g.out.Println("No history of %s on %s yet.", opts.app, strings.Join(f.Names(), ", "))
		return nil
	}
	return printRuns(g.stdout, runs, false, live)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
