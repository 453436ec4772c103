package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/remove"
	"github.com/spf13/cobra"
)

func newRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove app...",
		Short: "Take apps away: stop routing to them, drain, remove their containers and deploy records",
		// A name is required, so nothing is ever removed by accident.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return exitWith(exitUsage, errors.New("name the app(s) to remove, e.g. `luma remove blog`"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRemove(cmd.Context(), g, args)
		},
	}
}

func runRemove(parent context.Context, g *globals, names []string) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	apps, err := selectApps(cfg, names)
	if err != nil {
		return err
	}
	// Every step is safe to repeat: an interrupted remove is finished by
	// running it again.
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, err := connectServers(ctx, g, cfg, serversOf(apps))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkSetup(ctx, f); err != nil {
		return err
	}
	opts := remove.Options{Holder: naming.Holder(), Lease: 30 * time.Second}
	for _, a := range apps {
		app := remove.App{Project: cfg.Name, Name: a.Name, DrainTimeout: a.DrainTimeout, StopTimeout: a.StopTimeout}
		err := f.Each(func(s *fleet.Server) error {
			if !slices.Contains(a.Servers, s.Name) {
				return nil
			}
			return remove.Server(ctx, s.Name, s.Engine, s.Proxy, app, opts, g.out)
		})
		if err != nil {
			code := removeExitCode(ctx, err)
			if code == exitLocked {
				return exitWith(code, fmt.Errorf("remove %s: %w\nnothing was changed where the lock is held; run it again once that deploy is done", a.Name, err))
			}
			return exitWith(code, fmt.Errorf("remove %s: %w\nrun `luma remove %s` again to finish", a.Name, err, a.Name))
		}
	}
	return nil
}

func removeExitCode(ctx context.Context, err error) int {
	var locked *drivers.LockedError
	switch {
	case errors.As(err, &locked):
		return exitLocked
	case ctx.Err() != nil:
		return exitInterrupted
	}
	return exitFailure
}
