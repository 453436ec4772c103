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
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/release"
	"github.com/luma-deploy/luma/steps"
	"github.com/spf13/cobra"
)

type deployOptions struct {
	apps     []string
	lockWait time.Duration
	lease    time.Duration
	release  string
	json     bool
}

func newDeployCmd(g *globals) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy [app...]",
		Short: "Deploy apps blue-green with zero downtime (all apps when none is named)",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			return runDeploy(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().DurationVar(&opts.lockWait, "lock-wait", 0, "wait this long for another deploy of the same app to finish")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as JSON on stdout (progress goes to stderr)")
	cmd.Flags().StringVar(&opts.release, "release", "", "release name (default: git short SHA, -dirty when the tree has changes)")
	// A shorter lease frees the app sooner after a run dies, but a run
	// whose renewals stall longer than it can be overtaken: hidden, for
	// tests and people who know their link.
	cmd.Flags().DurationVar(&opts.lease, "lease", 30*time.Second, "deploy lock lease, renewed every third of it")
	cmd.Flags().MarkHidden("lease")
	return cmd
}

func runDeploy(parent context.Context, g *globals, opts *deployOptions) error {
	if opts.lease < 3*time.Second {
		return exitWith(exitUsage, fmt.Errorf("--lease %s: must be at least 3s, so that renewals every third of it never lapse", opts.lease))
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	apps, err := selectApps(cfg, opts.apps)
	if err != nil {
		return err
	}
	// Everything that can fail without a server is checked first.
	secrets, err := loadSecretsIfNeeded(cfg, apps)
	if err != nil {
		return exitWith(exitConfig, err)
	}
	envs := map[string][]string{}
	for _, a := range apps {
		env, err := cfg.Env(a.Environment, secrets)
		if err != nil {
			return exitWith(exitConfig, fmt.Errorf("app %s: %w", a.Name, err))
		}
		envs[a.Name] = env
	}
	// Ctrl-C cancels ctx: the deploy rolls back before the switch and
	// finishes after it. A second Ctrl-C kills luma at once.
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	rel := opts.release
	if rel == "" {
		rel = release.ID(ctx, cfg.Dir, time.Now())
	}
	f, err := connectServers(ctx, g, cfg, serversOf(apps))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkSetup(ctx, f); err != nil {
		return err
	}
	source, closeSource := localSource(ctx, g, f)
	defer closeSource()

	out := g.out
	if opts.json {
		out = newPrinter(g.stderr)
	}
	report := &deployReport{Project: cfg.Name, Release: rel}
	var failed error
	code := exitOK
	for _, a := range apps {
		image, err := appImage(ctx, g, out, cfg, a, rel, source)
		if err != nil { // nothing of this app was changed on any server
			failed, code = err, exitFailure
			break
		}
		app := stepsApp(cfg, a, image, rel, envs[a.Name])
		servers := make([]steps.Server, 0, len(a.Servers))
		for _, name := range a.Servers {
			s := f.Get(name)
			servers = append(servers, steps.Server{Name: name, Engine: s.Engine, Proxy: s.Proxy, Source: source})
		}
		start := time.Now()
		res, err := steps.Deploy(ctx, app, servers, out, steps.Options{Holder: naming.Holder(), LockWait: opts.lockWait, Lease: opts.lease})
		g.log.Debug("deploy finished", "app", a.Name, "took", time.Since(start), "result", res)
		printDeploySummary(out, a.Name, rel, time.Since(start), res)
		report.add(a.Name, time.Since(start), res)
		if err != nil {
			failed, code = err, deployExitCode(ctx, err)
			break
		}
	}
	if opts.json {
		report.finish(code, failed)
		if err := report.write(g.stdout); err != nil {
			return err
		}
	}
	if failed != nil {
		return exitWith(code, failed)
	}
	return nil
}

// deployExitCode tells scripts what state a failed deploy left behind.
func deployExitCode(ctx context.Context, err error) int {
	var locked *drivers.LockedError
	switch {
	case errors.As(err, &locked):
		return exitLocked
	case errors.Is(err, steps.ErrAfterSwitch):
		return exitAfterSwitch
	case errors.Is(err, steps.ErrRollbackUnfinished):
		return exitFailure // not 3: something of the failed deploy is left
	case ctx.Err() != nil:
		return exitInterrupted
	default:
		return exitRolledBack
	}
}

// checkSetup fails early, on every server at once, when luma-proxy is not
// running, telling the user to run `luma setup`.
func checkSetup(ctx context.Context, f *fleet.Fleet) error {
	err := f.Each(func(s *fleet.Server) error {
		_, err := s.Proxy.Routes(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w\nnothing was changed", err)
	}
	return nil
}

// localSource is the local engine, where images are built and from which
// servers that lack an image receive it. Without one, every image must
// already be on the servers.
func localSource(ctx context.Context, g *globals, f *fleet.Fleet) (drivers.Images, func()) {
	if s := f.Get(fleet.Local); s != nil {
		return s.Engine, func() {}
	}
	e, err := docker.Connect(ctx, docker.Target{Server: fleet.Local})
	if err != nil {
		g.log.Debug("no local engine", "err", err)
		return nil, func() {}
	}
	return e, func() { e.Close() }
}

// appImage builds the app's image on the local engine when it has a build
// section, tagged with the release; else it is the configured image.
func appImage(ctx context.Context, g *globals, out *printer, cfg *config.Config, a *config.App, rel string, source drivers.Images) (string, error) {
	if a.Build == nil {
		return a.Image, nil
	}
	if source == nil {
		return "", fmt.Errorf("app %s has a build section but the local Docker engine is not reachable", a.Name)
	}
	tag := fmt.Sprintf("%s-%s:%s", cfg.Name, a.Name, rel)
	out.Println("Building %s from %s...", tag, a.Build.Context)
	tar, err := docker.TarDir(a.Build.Context)
	if err != nil {
		return "", err
	}
	defer tar.Close()
	spec := drivers.BuildSpec{
		Tag: tag, Dockerfile: a.Build.Dockerfile, Args: a.Build.Args, Target: a.Build.Target, Platform: a.Build.Platform,
		Labels: map[string]string{naming.LabelProject: cfg.Name, naming.LabelApp: a.Name, naming.LabelRelease: rel},
	}
	if err := source.BuildImage(ctx, spec, tar); err != nil {
		return "", fmt.Errorf("build %s: %w", tag, err)
	}
	return tag, nil
}

func stepsApp(cfg *config.Config, a *config.App, image, rel string, env []string) steps.App {
	app := steps.App{
		Project: cfg.Name, Name: a.Name, Image: image, Release: rel,
		Replicas: a.Replicas, Env: env, Cmd: a.Command, Volumes: a.Volumes,
		Health: steps.HealthCheck{
			Path: a.HealthCheck.Path, StartPeriod: a.HealthCheck.StartPeriod,
			Interval: a.HealthCheck.Interval, Timeout: a.HealthCheck.Timeout, Retries: a.HealthCheck.Retries,
		},
		DrainTimeout: a.DrainTimeout, StopTimeout: a.StopTimeout,
	}
	if a.Proxy != nil {
		app.Hosts, app.AppPort = a.Proxy.Hosts, a.Proxy.AppPort
		app.MaxBodySize, app.IdleTimeout = a.Proxy.MaxBodySize, a.Proxy.UpstreamIdleTimeout
	}
	return app
}

func loadSecretsIfNeeded(cfg *config.Config, apps []*config.App) (map[string]string, error) {
	for _, a := range apps {
		if len(a.Environment.Secret) > 0 {
			return config.LoadSecrets(cfg.SecretsPath())
		}
	}
	return map[string]string{}, nil
}
