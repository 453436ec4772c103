package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/luma-deploy/luma/internal/deploy"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/prune"
	"github.com/spf13/cobra"
)

type pruneOptions struct {
	apps []string
	json bool
}

func newPruneCmd(g *globals) *cobra.Command {
	opts := &pruneOptions{}
	cmd := &cobra.Command{
		Use:               "prune [app...]",
		Short:             "Remove images of old releases from the servers and the local engine, keeping keep_releases of each app",
		ValidArgsFunction: completeApps(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			return runPrune(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print what was removed as JSON on stdout (progress goes to stderr)")
	return cmd
}

// pruneReport is `luma prune --json`.
type pruneReport struct {
	Project    string        `json:"project"`
	OK         bool          `json:"ok"`
	FreedBytes int64         `json:"freed_bytes"`
	Results    []pruneResult `json:"results"`
}

type pruneResult struct {
	Server       string         `json:"server"`
	App          string         `json:"app"`
	Removed      []removedImage `json:"removed"`
	KeptReleases []string       `json:"kept_releases"`
	FreedBytes   int64          `json:"freed_bytes"`
	Skipped      string         `json:"skipped,omitempty"`
	Error        string         `json:"error,omitempty"`
}

type removedImage struct {
	ID      string    `json:"id"`
	Refs    []string  `json:"refs"`
	Release string    `json:"release"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
}

func runPrune(parent context.Context, g *globals, opts *pruneOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	apps, err := selectApps(cfg, opts.apps)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := connectServers(ctx, g, cfg, serversOf(apps))
	if err != nil {
		return err
	}
	defer f.Close()
	source, closeSource := localSource(ctx, g, f)
	defer closeSource()
	local, _ := source.(prune.Engine)
	if f.Get(fleet.Local) != nil {
		local = nil // the local engine is a server: pruned as one
	}

	out := g.out
	if opts.json {
		out = newPrinter(g.stderr)
	}
	report := &pruneReport{Project: cfg.Name, OK: true, Results: []pruneResult{}}
	var mu sync.Mutex
	record := func(r prune.Result, err error) {
		switch {
		case err != nil:
			out.Printf(r.Server, "Could not remove every old image of %s: %v", r.App, err)
		case r.Skipped != "":
			out.Printf(r.Server, "Skipped %s: %s", r.App, r.Skipped)
		case len(r.Removed) > 0:
			out.Printf(r.Server, "%s", r.Line())
		case len(r.Kept) == 0:
			out.Printf(r.Server, "No images of %s to remove", r.App)
		default:
			out.Printf(r.Server, "Nothing to remove for %s (releases kept: %s)", r.App, strings.Join(r.Kept, ", "))
		}
		mu.Lock()
		defer mu.Unlock()
		report.add(r, err)
	}
	for _, a := range apps {
		app := prune.App{Project: cfg.Name, Name: a.Name, Keep: a.KeepReleases}
		f.Each(func(s *fleet.Server) error {
			if slices.Contains(a.Servers, s.Name) {
				record(prune.Run(ctx, prune.Target{Name: s.Name, Engine: s.Engine, Records: s.Proxy}, app))
			}
			return nil
		})
		if local != nil && a.Build != nil {
			record(prune.Run(ctx, prune.Target{Name: deploy.LocalName, Engine: local}, app))
		}
	}
	out.Println("%s freed", prune.MB(report.FreedBytes))
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	}
	if !report.OK {
		if ctx.Err() != nil {
			return exitWith(exitInterrupted, errors.New("interrupted"))
		}
		return exitWith(exitFailure, fmt.Errorf("some images could not be removed (see above); run `luma prune` again"))
	}
	return nil
}

func (r *pruneReport) add(res prune.Result, err error) {
	pr := pruneResult{Server: res.Server, App: res.App, Removed: []removedImage{}, KeptReleases: res.Kept,
		FreedBytes: res.Freed, Skipped: res.Skipped}
	if pr.KeptReleases == nil {
		pr.KeptReleases = []string{}
	}
	for _, img := range res.Removed {
		pr.Removed = append(pr.Removed, removedImage{ID: img.ID, Refs: img.Refs, Release: img.Labels[naming.LabelRelease], Created: img.Created, Size: img.Size})
	}
	if err != nil {
		pr.Error = err.Error()
		r.OK = false
	}
	r.FreedBytes += res.Freed
	r.Results = append(r.Results, pr)
}
