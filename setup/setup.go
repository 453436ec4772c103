package setup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// Options is what setting up one server needs.
type Options struct {
	Project    string
	HTTPPort   int
	ProxyImage string // configured image for servers whose platform differs
	Exe        string // the luma executable the proxy image is built from
	Now        func() time.Time
}

// Reporter prints one progress line for a server.
type Reporter interface {
	Printf(server, format string, args ...any)
}

// Engine is what setup needs of a server's engine.
type Engine interface {
	drivers.Containers
	drivers.Networks
	drivers.Images
	Platform(ctx context.Context) (string, error)
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Network is the project's network name.
func Network(project string) string { return project + "-network" }

// Server sets up one server. It is idempotent: a second run with the same
// luma binary changes nothing.
func Server(ctx context.Context, server string, e Engine, p drivers.Proxy, opts Options, rep Reporter) error {
	image, err := ensureImage(ctx, server, e, opts, rep)
	if err != nil {
		return err
	}
	network := Network(opts.Project)
	if err := e.EnsureNetwork(ctx, network, map[string]string{"luma.project": opts.Project}); err != nil {
		return fmt.Errorf("create network %s: %w", network, err)
	}
	if err := ensureProxy(ctx, server, e, p, image, network, opts, rep); err != nil {
		return err
	}
	return waitReady(ctx, p)
}

// ensureImage builds the proxy image on the server from the luma binary
// when the platforms match, else uses the configured image.
func ensureImage(ctx context.Context, server string, e Engine, opts Options, rep Reporter) (string, error) {
	platform, err := e.Platform(ctx)
	if err != nil {
		return "", fmt.Errorf("engine: %w", err)
	}
	local := runtime.GOOS + "/" + runtime.GOARCH
	if platform != local {
		if opts.ProxyImage == "" {
			return "", fmt.Errorf("server platform is %s but this luma binary is %s: set proxy.image in luma.yml to a luma image built for %s", platform, local, platform)
		}
		return opts.ProxyImage, nil
	}
	tag, bin, err := proxyImage(opts.Exe)
	if err != nil {
		return "", err
	}
	if ok, err := e.HasImage(ctx, tag); err != nil {
		return "", err
	} else if ok {
		return tag, nil
	}
	rep.Printf(server, "Building %s from this luma binary...", tag)
	tar, err := docker.TarFiles(
		map[string][]byte{"Dockerfile": []byte(proxyDockerfile), "luma": bin},
		map[string]int64{"luma": 0o755})
	if err != nil {
		return "", err
	}
	spec := drivers.BuildSpec{Tag: tag, Dockerfile: "Dockerfile", Labels: map[string]string{"luma.role": "proxy"}}
	if err := e.BuildImage(ctx, spec, tar); err != nil {
		return "", fmt.Errorf("build %s: %w", tag, err)
	}
	return tag, nil
}

// ensureProxy starts luma-proxy, or replaces one that runs another image or
// publishes another port. A replaced proxy keeps its state volume and
// rejoins every network the old one was on, so other projects on the server
// keep being served. It never replaces a proxy while a deploy holds a lock:
// that deploy's switch and drain run through it.
func ensureProxy(ctx context.Context, server string, e Engine, p drivers.Proxy, image, network string, opts Options, rep Reporter) error {
	name := proxyclient.ContainerName
	port := strconv.Itoa(opts.HTTPPort)
	old, err := e.Inspect(ctx, name)
	switch {
	case errors.Is(err, drivers.ErrNotFound):
	case err != nil:
		return err
	case old.Image == image && old.Labels[portLabel] == port && old.Running():
		if _, ok := old.Networks[network]; !ok {
			rep.Printf(server, "Joining %s to %s...", name, network)
			return e.Connect(ctx, network, name, nil)
		}
		rep.Printf(server, "%s is up to date (%s)", name, image)
		return nil
	default:
		if err := noDeployRunning(ctx, p, opts.now()); err != nil {
			return err
		}
		rep.Printf(server, "Replacing %s (%s, port %s → %s, port %s)...", name, old.Image, old.Labels[portLabel], image, port)
		if err := e.Stop(ctx, name, proxyStopTimeout); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			return fmt.Errorf("stop old %s: %w", name, err)
		}
		if err := e.Remove(ctx, name); err != nil {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	rep.Printf(server, "Starting %s on port %d...", name, opts.HTTPPort)
	spec := drivers.ContainerSpec{
		Name:        name,
		Image:       image,
		Labels:      map[string]string{"luma.role": "proxy", portLabel: port},
		Network:     network,
		Volumes:     []string{"luma-proxy-state:" + path.Dir(protocol.StatePath)},
		Ports:       []string{port + ":80"},
		StopSignal:  "SIGTERM",
		StopTimeout: proxyStopTimeout,
		Restart:     "unless-stopped",
	}
	if err := e.Create(ctx, spec); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	for net := range old.Networks {
		if net == network || net == "bridge" {
			continue
		}
		// A network removed since is simply not rejoined.
		if err := e.Connect(ctx, net, name, nil); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			return fmt.Errorf("rejoin %s to %s: %w", name, net, err)
		}
	}
	if err := e.Start(ctx, name); err != nil {
		e.Remove(context.WithoutCancel(ctx), name)
		return fmt.Errorf("start %s (is port %d free?): %w", name, opts.HTTPPort, err)
	}
	return nil
}

const (
	// portLabel records the published port, which Inspect does not report.
	portLabel = "luma.http_port"
	// proxyStopTimeout is above the proxy's own 30 s graceful shutdown.
	proxyStopTimeout = 35 * time.Second
)

// noDeployRunning refuses while a live deploy lock exists on the proxy.
func noDeployRunning(ctx context.Context, p drivers.Proxy, now time.Time) error {
	locks, err := p.Locks(ctx)
	if err != nil {
		return nil // an old or stopped proxy: nothing runs through it
	}
	for _, l := range locks {
		if now.Before(l.Expires) {
			return fmt.Errorf("not replacing luma-proxy: a deploy of %s is running (held by %s since %s, state %s); run setup again when it is done",
				l.Key, l.Holder, l.Since.Format(time.RFC3339), l.State)
		}
	}
	return nil
}

// waitReady waits until the proxy answers on its admin socket.
func waitReady(ctx context.Context, p drivers.Proxy) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := p.Routes(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("luma-proxy did not become ready: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
