package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
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
		ValidArgsFunction: completeApps(g),
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
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	f, err := connectServers(ctx, g, cfg, serversOf(apps))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkSetup(ctx, f, "", nil); err != nil {
		return err
	}
	var targets []remove.Target
	for _, name := range f.Names() {
		s := f.Get(name)
		targets = append(targets, remove.Target{Name: name, Engine: s.Engine, Proxy: s.Proxy})
	}
	err = remove.Run(ctx, remove.RunOptions{
		Config: cfg, Apps: apps, Servers: targets, Limit: fleet.MaxParallel, Out: g.out,
		Options: remove.Options{Holder: naming.Holder(), Lease: 30 * time.Second},
	})
	var failed *remove.AppError
	if errors.As(err, &failed) {
		code := removeExitCode(ctx, err)
		if code == exitLocked {
			return exitWith(code, fmt.Errorf("%w\nnothing was changed where the lock is held; run it again once that deploy is done", err))
		}
		return exitWith(code, fmt.Errorf("%w\nrun `luma remove %s` again to finish", err, failed.App))
	}
	return err
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
