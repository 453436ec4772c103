package setup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/proxy"
	"golang.org/x/sync/errgroup"
)

// Target is one connected server to set up.
type Target struct {
	Name   string
	Engine Engine
	Proxy  Proxy
}

// RunOptions is `luma setup` for a project, without the CLI.
type RunOptions struct {
	Config  *config.Config
	Servers []Target
	// Services are each server's services, from ServicesByServer.
	Services map[string][]Service
	// Source is the local engine, to send service images from; nil when
	// no service needs one.
	Source drivers.Images
	Exe    string // the luma executable the proxy image is built from
	// DefaultProxyImage is the published luma-proxy image of this luma's
	// version (PublishedProxyImage), pulled when Exe cannot become it.
	DefaultProxyImage string
	Registry          *drivers.RegistryAuth // the project's registry, for the proxy image
	Holder            string
	RestartServices   bool
	DryRun            bool // say what would change, change nothing
	AllowDowngrade    bool // replace a newer luma-proxy with this luma's
	Limit             int  // servers set up at once
	Out               Reporter
}

// Run sets up every server at once: luma-proxy (under the deploy locks of
// every app it knows when it must be replaced), then the project's
// services. Every server's luma-proxy is looked at first: a refusal on
// one (a port another project serves otherwise, a newer luma-proxy)
// changes nothing anywhere. Every server's error is kept, prefixed with
// its name.
func Run(ctx context.Context, opts RunOptions) error {
	plans := make([]proxyPlan, len(opts.Servers))
	refused := make([]bool, len(opts.Servers))
	err := each(opts, func(i int, s Target) (err error) {
		plans[i], err = planProxy(ctx, s.Engine, s.Proxy, serverOptions(s, opts))
		refused[i] = err != nil
		return err
	})
	if err != nil && !opts.DryRun {
		return fmt.Errorf("%w\nnothing was changed", err)
	}
	// A dry run says each server's plan, and the refusals.
	return errors.Join(err, each(opts, func(i int, s Target) error {
		if refused[i] {
			return nil
		}
		return runServer(ctx, s, plans[i], opts)
	}))
}

// each runs fn for every server, opts.Limit at once, and joins the
// errors, each prefixed with its server, in the servers' order.
func each(opts RunOptions, fn func(int, Target) error) error {
	errs := make([]error, len(opts.Servers))
	var g errgroup.Group
	g.SetLimit(max(opts.Limit, 1))
	for i, s := range opts.Servers {
		g.Go(func() error {
			if err := fn(i, s); err != nil {
				errs[i] = fmt.Errorf("[%s] %w", s.Name, err)
			}
			return nil
		})
	}
	g.Wait()
	return errors.Join(errs...)
}

// serverOptions is what setting up server s takes.
func serverOptions(s Target, opts RunOptions) Options {
	cfg := opts.Config
	so := Options{
		Project: cfg.Name, HTTPPort: cfg.Proxy.HTTPPort, HTTPSPort: httpsPort(cfg), ProxyImage: cfg.Proxy.Image,
		DefaultProxyImage: opts.DefaultProxyImage, Registry: opts.Registry,
		Exe: opts.Exe, Holder: opts.Holder, Revision: proxy.Revision, SupervisorRevision: proxy.SupervisorRevision,
		DryRun: opts.DryRun, AllowDowngrade: opts.AllowDowngrade,
	}
	for _, a := range cfg.Apps {
		if slices.Contains(a.Servers, s.Name) {
			so.Apps = append(so.Apps, a.Name)
		}
	}
	return so
}

// runServer sets up server s as pl, its luma-proxy's plan, says.
func runServer(ctx context.Context, s Target, pl proxyPlan, opts RunOptions) error {
	so := serverOptions(s, opts)
	if err := apply(ctx, s.Name, s.Engine, s.Proxy, pl, so, opts.Out); err != nil {
		return err
	}
	if opts.DryRun {
		return nil
	}
	if err := Services(ctx, s.Name, s.Engine, opts.Source, opts.Services[s.Name], opts.RestartServices, opts.Out); err != nil {
		return err
	}
	opts.Out.Printf(s.Name, "Ready: luma-proxy serving on %s ✓", portsOf(strconv.Itoa(so.HTTPPort), httpsLabel(so.HTTPSPort)))
	return nil
}

// ServicesByServer resolves every service's environment (secrets included)
// before any server is touched, and groups the services by server.
func ServicesByServer(cfg *config.Config) (map[string][]Service, error) {
	out := map[string][]Service{}
	if len(cfg.Services) == 0 {
		return out, nil
	}
	secrets := map[string]string{}
	for _, s := range cfg.Services {
		if len(s.Environment.Secret) > 0 || cfg.Registry != nil {
			var err error
			if secrets, err = config.LoadSecrets(cfg.SecretsPath()); err != nil {
				return nil, err
			}
			break
		}
	}
	auth, err := registryAuth(cfg, secrets)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Services {
		env, err := cfg.Env(s.Environment, secrets)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", s.Name, err)
		}
		svc := Service{
			Project: cfg.Name, Name: s.Name, Image: s.Image, Env: env,
			PlainEnv: s.Environment.Plain, SecretNames: s.Environment.Secret,
			Cmd: s.Command, Volumes: s.Volumes, Ports: s.Ports, Registry: auth,
		}
		for _, server := range s.Servers {
			out[server] = append(out[server], svc)
		}
	}
	return out, nil
}

// RegistryAuth is the project's registry credentials (nil without a
// registry), the password read from .luma/secrets.
func RegistryAuth(cfg *config.Config) (*drivers.RegistryAuth, error) {
	if cfg.Registry == nil {
		return nil, nil
	}
	secrets, err := config.LoadSecrets(cfg.SecretsPath())
	if err != nil {
		return nil, err
	}
	return registryAuth(cfg, secrets)
}

func registryAuth(cfg *config.Config, secrets map[string]string) (*drivers.RegistryAuth, error) {
	if cfg.Registry == nil {
		return nil, nil
	}
	pass, err := cfg.RegistryPassword(secrets)
	if err != nil {
		return nil, err
	}
	return &drivers.RegistryAuth{Server: cfg.Registry.Host(), Username: cfg.Registry.Username, Password: pass}, nil
}

// httpsPort is published when some app is served over HTTPS.
func httpsPort(cfg *config.Config) int {
	if cfg.HasTLS() {
		return cfg.Proxy.HTTPSPort
	}
	return 0
}

func httpsLabel(port int) string {
	if port == 0 {
		return ""
	}
	return strconv.Itoa(port)
}
