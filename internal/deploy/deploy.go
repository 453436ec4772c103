// Package deploy is `luma deploy` without the CLI: it builds each app's
// image on the local engine when the app has a build section, turns the
// config's app into the state machine's (steps.App), and deploys the apps
// one after another on their servers. cmd/luma parses flags, connects the
// servers, prints and picks the exit code.
package deploy

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/steps"
)

// Reporter prints progress: one line for a server, or a line of its own.
type Reporter interface {
	steps.Reporter
	Println(format string, args ...any)
}

// Server is one connected server of the run.
type Server struct {
	Engine interface {
		drivers.Containers
		drivers.Networks
		drivers.Images
		drivers.ImageStore
	}
	Proxy drivers.Proxy
}

// Options are what a deploy needs, resolved by the caller.
type Options struct {
	Config *config.Config
	Apps   []*config.App       // deployed in this order
	Env    map[string][]string // app name → KEY=VALUE, secrets included
	// Certificates are the apps' own certificates (app name → PEM),
	// checked against their hosts already.
	Certificates map[string]drivers.OwnCertificate
	Release      string
	Servers      map[string]Server // every server an app names, connected
	// Source is the local engine: images are built there and sent from
	// there to servers that lack them. nil: every image must already be
	// on its servers, and no app may have a build section.
	Source drivers.Images
	// Registry is where builds are pushed and images of it pulled with
	// credentials; nil: none (images on other registries are pulled
	// anonymously).
	Registry *Registry
	Out      Reporter
	Steps    steps.Options // holder, lock wait, lease, kind
	// Pinned are images to deploy instead of building or taking the
	// config's (app name → image): `luma rollback`'s earlier release.
	Pinned map[string]Pinned
	// Done is called after each app's deploy, e.g. to print its summary.
	Done func(AppResult)
}

// Pinned is an image a run deploys whatever the config says.
type Pinned struct {
	Image string // what the servers run: a name, or an ID every server holds
	Ref   string // its name, for the history, when Image is an ID
}

// AppResult is one app's deploy.
type AppResult struct {
	App    string
	Wall   time.Duration
	Result steps.Result
}

// Run deploys the apps in order and stops at the first that fails; the
// error is that app's (a *BuildError when its image could not be built,
// in which case nothing of it changed on any server).
func Run(ctx context.Context, opts Options) ([]AppResult, error) {
	var out []AppResult
	for _, a := range opts.Apps {
		pin, pinned := opts.Pinned[a.Name]
		image := pin.Image
		if !pinned {
			built, err := buildImage(ctx, opts, a)
			if err != nil {
				return out, &BuildError{App: a.Name, Err: err}
			}
			image = built
		}
		source, err := provide(ctx, opts, a, image)
		if err != nil {
			return out, &BuildError{App: a.Name, Err: err}
		}
		servers := make([]steps.Server, 0, len(a.Servers))
		for _, name := range a.Servers {
			s, ok := opts.Servers[name]
			if !ok {
				return out, fmt.Errorf("app %s: server %s is not connected", a.Name, name)
			}
			servers = append(servers, steps.Server{Name: name, Engine: s.Engine, Proxy: s.Proxy, Source: source})
		}
		start := time.Now()
		app := App(opts.Config, a, image, opts.Release, opts.Env[a.Name])
		app.ImageRef = pin.Ref
		if c, ok := opts.Certificates[a.Name]; ok {
			app.Certificate = &c
		}
		res, err := steps.Deploy(ctx, app, servers, opts.Out, opts.Steps)
		r := AppResult{App: a.Name, Wall: time.Since(start), Result: res}
		out = append(out, r)
		if opts.Done != nil {
			opts.Done(r)
		}
		if a.Build != nil && !pinned { // only builds make images of Luma's
			pruneApp(ctx, opts, a, res)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// BuildError is an app whose image could not be built, pushed or pulled:
// nothing of it changed on any server.
type BuildError struct {
	App string
	Err error
}

func (e *BuildError) Error() string { return e.Err.Error() }
func (e *BuildError) Unwrap() error { return e.Err }

// buildImage builds the app's image on the local engine when it has a
// build section and returns the tag to deploy: <repository>:<release>,
// where the repository is the app's image without its tag, or
// <project>-<app> when it has none. An image that names a tag gets that
// tag too, as Compose does. Else the image is the configured one.
func buildImage(ctx context.Context, opts Options, a *config.App) (string, error) {
	if a.Build == nil {
		return a.Image, nil
	}
	if opts.Source == nil {
		return "", fmt.Errorf("app %s has a build section but the local Docker engine is not reachable", a.Name)
	}
	tag, extra, err := BuildTags(opts.Config.Name, a, opts.Release)
	if err != nil {
		return "", err
	}
	opts.Out.Println("Building %s from %s...", strings.Join(append([]string{tag}, extra...), ", "), a.Build.Context)
	tar, err := docker.TarDir(a.Build.Context)
	if err != nil {
		return "", err
	}
	defer tar.Close()
	push := pushRef(opts, a, tag)
	if push != "" && push != tag {
		extra = append(extra, push)
	}
	spec := drivers.BuildSpec{
		Tag: tag, Tags: extra, Dockerfile: a.Build.Dockerfile, Args: a.Build.Args, Target: a.Build.Target, Platform: a.Build.Platform,
		Labels: map[string]string{naming.LabelProject: opts.Config.Name, naming.LabelApp: a.Name, naming.LabelRelease: opts.Release},
	}
	if err := opts.Source.BuildImage(ctx, spec, tar); err != nil {
		return "", fmt.Errorf("build %s: %w", tag, err)
	}
	if push != "" {
		return push, publish(ctx, opts, push)
	}
	return tag, nil
}

// BuildTags are the tags of a build of app at release: the one deployed
// and the app's image when it names a tag of its own.
func BuildTags(project string, a *config.App, release string) (string, []string, error) {
	if a.Image == "" {
		return fmt.Sprintf("%s-%s:%s", project, a.Name, release), nil, nil
	}
	named, err := reference.ParseNormalizedNamed(a.Image)
	if err != nil { // validation refused it already
		return "", nil, fmt.Errorf("app %s: image %s: %w", a.Name, a.Image, err)
	}
	tag := reference.FamiliarName(named) + ":" + release
	if t, ok := named.(reference.Tagged); ok && t.Tag() != release {
		return tag, []string{a.Image}, nil
	}
	return tag, nil, nil
}

// App is the state machine's view of a configured app: every value comes
// from the config, which has filled in every default.
func App(cfg *config.Config, a *config.App, image, release string, env []string) steps.App {
	app := steps.App{
		Project: cfg.Name, Name: a.Name, Image: image, Release: release,
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
		app.TLS, app.ProxyAddrs = routeTLS(cfg, a)
	}
	return app
}

// routeTLS is how the app's proxies serve it over HTTPS (nil: they do
// not), and where each of them takes plain HTTP from the others: the
// server's host at http_port.
func routeTLS(cfg *config.Config, a *config.App) (*drivers.RouteTLS, map[string]string) {
	if !a.Proxy.SSL {
		return nil, nil
	}
	t := &drivers.RouteTLS{Redirect: a.Proxy.SSLRedirect, HSTS: a.Proxy.HSTS, HTTPSPort: cfg.Proxy.HTTPSPort}
	if a.Proxy.Certificate == nil {
		t.ACME = &drivers.ACME{Directory: cfg.Proxy.ACME.Directory, Email: cfg.Proxy.ACME.Email, CACertificate: cfg.Proxy.ACME.CACertificate}
	}
	addrs := map[string]string{}
	for _, s := range a.Servers {
		if tgt, err := fleet.Target(s, cfg.SSH); err == nil && tgt.SSH.Host != "" {
			addrs[s] = net.JoinHostPort(tgt.SSH.Host, strconv.Itoa(cfg.Proxy.HTTPPort))
		}
	}
	return t, addrs
}
