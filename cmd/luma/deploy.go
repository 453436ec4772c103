package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/deploy"
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
	// rollback: deploy the release --to names, or the one before the
	// current, from its image (rollback.go).
	rollback bool
	to       string
}

func newDeployCmd(g *globals) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:               "deploy [app...]",
		Short:             "Deploy apps blue-green with zero downtime (all apps when none is named)",
		ValidArgsFunction: completeApps(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			return runDeploy(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().StringVar(&opts.release, "release", "", "release name (default: git short SHA, -dirty when the tree has changes)")
	runFlags(cmd, opts)
	return cmd
}

// runFlags are the flags of a run through the deploy machine: deploy and
// rollback.
func runFlags(cmd *cobra.Command, opts *deployOptions) {
	cmd.Flags().DurationVar(&opts.lockWait, "lock-wait", 0, "wait this long for another deploy of the same app to finish")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the result as JSON on stdout (progress goes to stderr)")
	// A shorter lease frees the app sooner after a run dies, but a run
	// whose renewals stall longer than it can be overtaken: hidden, for
	// tests and people who know their link.
	cmd.Flags().DurationVar(&opts.lease, "lease", 30*time.Second, "deploy lock lease, renewed every third of it")
	cmd.Flags().MarkHidden("lease")
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
	certs := map[string]drivers.OwnCertificate{}
	for _, a := range apps {
		if a.Proxy == nil || a.Proxy.Certificate == nil {
			continue
		}
		cert, key, err := cfg.Certificate(a, secrets, time.Now())
		if err != nil {
			return exitWith(exitConfig, fmt.Errorf("%w\nnothing was changed", err))
		}
		certs[a.Name] = drivers.OwnCertificate{Certificate: cert, PrivateKey: key, Hosts: a.Proxy.Hosts}
	}
	registry, err := registryOf(cfg, secrets)
	if err != nil {
		return exitWith(exitConfig, err)
	}
	// Ctrl-C (or SIGTERM, or the terminal closing: SIGHUP) cancels ctx:
	// the deploy rolls back before the switch and finishes after it. A
	// second Ctrl-C kills luma at once.
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	rel := opts.release
	if rel == "" && !opts.rollback {
		rel = release.ID(ctx, cfg.Dir, time.Now())
	}
	f, err := connectServers(ctx, g, cfg, serversOf(apps))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := checkSetup(ctx, f, cfg.Name, apps); err != nil {
		return err
	}
	source, closeSource := localSource(ctx, g, f)
	defer closeSource()

	out := g.out
	if opts.json {
		out = newPrinter(g.stderr)
	}
	kind := drivers.EventDeploy
	var pinned map[string]deploy.Pinned
	if opts.rollback {
		kind = drivers.EventRollback
		if rel, pinned, err = planRollback(ctx, cfg, apps[0], f, opts.to, out); err != nil {
			return err
		}
	}
	servers := map[string]deploy.Server{}
	for _, name := range f.Names() {
		s := f.Get(name)
		servers[name] = deploy.Server{Engine: s.Engine, Proxy: s.Proxy}
	}
	report := &deployReport{Project: cfg.Name, Release: rel}
	_, failed := deploy.Run(ctx, deploy.Options{
		Config: cfg, Apps: apps, Env: envs, Certificates: certs, Release: rel, Servers: servers, Source: source, Registry: registry, Out: out,
		Steps:  steps.Options{Holder: naming.Holder(), LockWait: opts.lockWait, Lease: opts.lease, Kind: kind},
		Pinned: pinned,
		Done: func(r deploy.AppResult) {
			g.log.Debug("deploy finished", "app", r.App, "took", r.Wall, "result", r.Result)
			printDeploySummary(out, r.App, rel, r.Wall, r.Result)
			report.add(r.App, r.Wall, r.Result)
		},
	})
	code := exitOK
	if failed != nil {
		code = deployExitCode(ctx, failed)
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
	var build *deploy.BuildError
	switch {
	case errors.As(err, &build): // nothing of that app changed anywhere
		return exitFailure
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

// checkSetup fails early, on every server at once and before anything
// changes, when luma-proxy is not running, or (project not "") has not
// joined the project's network (another project set it up: run `luma
// setup`), or serves a host of apps for another app, of this project or
// another one sharing the server: luma-proxy would refuse the switch
// only after the new containers were made.
func checkSetup(ctx context.Context, f *fleet.Fleet, project string, apps []*config.App) error {
	var mu sync.Mutex
	var clashes []string
	err := f.Each(func(s *fleet.Server) error {
		routes, err := s.Proxy.Routes(ctx)
		if err != nil || project == "" {
			return err
		}
		c, err := s.Engine.Inspect(ctx, naming.ProxyContainer)
		if err != nil {
			return err
		}
		if _, ok := c.Networks[naming.Network(project)]; !ok {
			return fmt.Errorf("luma-proxy does not serve project %s yet (it is not on %s): run \"luma setup\"", project, naming.Network(project))
		}
		mu.Lock()
		defer mu.Unlock()
		clashes = append(clashes, hostClashes(s.Name, project, apps, routes)...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w\nnothing was changed", err)
	}
	if len(clashes) > 0 {
		slices.Sort(clashes)
		return exitWith(exitFailure, fmt.Errorf("%s\nnothing was changed", strings.Join(clashes, "\n")))
	}
	return nil
}

// hostClashes are the hosts of apps on server that routes give another app.
func hostClashes(server, project string, apps []*config.App, routes []drivers.Route) []string {
	var out []string
	for _, a := range apps {
		if a.Proxy == nil || !slices.Contains(a.Servers, server) {
			continue
		}
		key := naming.Key(project, a.Name)
		for _, r := range routes {
			for _, h := range a.Proxy.Hosts {
				if r.App != key && slices.Contains(r.Hosts, h) {
					out = append(out, fmt.Sprintf("[%s] host %s of %s is served by %s: take it out of one of them", server, h, key, r.App))
				}
			}
		}
	}
	return out
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

// registryOf is the project's registry with its password from secrets;
// nil when luma.yml names none.
func registryOf(cfg *config.Config, secrets map[string]string) (*deploy.Registry, error) {
	if cfg.Registry == nil {
		return nil, nil
	}
	pass, err := cfg.RegistryPassword(secrets)
	if err != nil {
		return nil, err
	}
	return &deploy.Registry{Server: cfg.Registry.Server,
		Auth: drivers.RegistryAuth{Server: cfg.Registry.Host(), Username: cfg.Registry.Username, Password: pass}}, nil
}

func loadSecretsIfNeeded(cfg *config.Config, apps []*config.App) (map[string]string, error) {
	if cfg.Registry != nil {
		return config.LoadSecrets(cfg.SecretsPath())
	}
	for _, a := range apps {
		if len(a.Environment.Secret) > 0 || (a.Proxy != nil && a.Proxy.Certificate != nil) {
			return config.LoadSecrets(cfg.SecretsPath())
		}
	}
	return map[string]string{}, nil
}
