package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/pull"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// Options is what setting up one server needs.
type Options struct {
	Project  string
	HTTPPort int
	// HTTPSPort is published for HTTPS when some app has ssl (0: not).
	HTTPSPort int
	// Revision is the proxy code's revision in this luma (proxy.Revision):
	// a running luma-proxy of another revision is upgraded.
	Revision int
	// SupervisorRevision is its container supervisor's
	// (proxy.SupervisorRevision): another one needs a new container.
	SupervisorRevision int
	// DryRun says what setup would do, and changes nothing.
	DryRun bool
	// AllowDowngrade lets a luma-proxy of a newer revision be replaced by
	// this luma's (refused otherwise, DowngradeError).
	AllowDowngrade bool
	// ProxyImage is proxy.image from luma.yml: the luma-proxy image to
	// pull when this luma binary cannot become it (another OS or CPU, or
	// dynamically linked). "": DefaultProxyImage.
	ProxyImage string
	// DefaultProxyImage is the published luma-proxy image of this luma's
	// version ("" for a development build, which has none).
	DefaultProxyImage string
	// Registry is the project's registry credentials, sent only to that
	// registry when the proxy image is pulled from it (nil: none).
	Registry *drivers.RegistryAuth
	Exe      string // the luma executable the proxy image is built from
	// Apps are the project's apps on the server: their deploy locks are
	// held while luma-proxy is replaced, with those of every app the proxy
	// knows.
	Apps   []string
	Holder string // names setup in those locks
}

// Reporter prints one progress line for a server.
type Reporter interface {
	Printf(server, format string, args ...any)
}

// Engine is what setup needs of a server's engine.
type Engine interface {
	drivers.Containers
	drivers.Files
	drivers.Networks
	drivers.Images
	Platform(ctx context.Context) (string, error)
}

// Proxy is what setup needs of a server's luma-proxy.
type Proxy interface {
	drivers.Proxy
	drivers.ProxyAdmin
	drivers.PortClaims
}

// Server sets up one server. It is idempotent: a second run with the same
// luma binary changes nothing, and a luma binary whose proxy code did not
// change (proxy.Revision) leaves luma-proxy alone.
func Server(ctx context.Context, server string, e Engine, p Proxy, opts Options, rep Reporter) error {
	pl, err := planProxy(ctx, e, p, opts)
	if err != nil {
		return err
	}
	return apply(ctx, server, e, p, pl, opts, rep)
}

// apply carries out pl, the plan planProxy made for the server.
func apply(ctx context.Context, server string, e Engine, p Proxy, pl proxyPlan, opts Options, rep Reporter) (err error) {
	if opts.DryRun {
		rep.Printf(server, "%s", pl.words())
		return nil
	}
	start := time.Now()
	defer func() {
		if err == nil {
			err = claim(ctx, p, opts)
		}
		if err == nil {
			audit(ctx, server, p, pl, opts, start, rep)
		}
	}()
	network := naming.Network(opts.Project)
	if err := e.EnsureNetwork(ctx, network, map[string]string{naming.LabelProject: opts.Project}); err != nil {
		return fmt.Errorf("create network %s: %w", network, err)
	}
	switch pl.kind {
	case planUpToDate, planUpgrade:
		if err := joinNetwork(ctx, server, e, pl.old, network, rep); err != nil {
			return err
		}
		if pl.kind == planUpToDate {
			rep.Printf(server, "%s is up to date (revision %d)", proxyclient.ContainerName, pl.info.Revision)
			return nil
		}
		if err := upgradeInPlace(ctx, server, e, p, pl, opts, rep); err != nil {
			return err
		}
	default:
		image, err := ensureImage(ctx, server, e, opts, rep)
		if err != nil {
			return err
		}
		if err := ensureProxy(ctx, server, e, p, image, network, pl, opts, rep); err != nil {
			return err
		}
	}
	return waitReady(ctx, p)
}

func joinNetwork(ctx context.Context, server string, e Engine, c drivers.Container, network string, rep Reporter) error {
	if _, ok := c.Networks[network]; ok {
		return nil
	}
	rep.Printf(server, "Joining %s to %s...", proxyclient.ContainerName, network)
	return e.Connect(ctx, network, proxyclient.ContainerName, nil)
}

// ensureImage builds the proxy image on the server from the luma binary
// when it can run there (same OS and CPU, statically linked), else pulls
// the luma-proxy image: proxy.image, or the published one of this luma's
// version.
func ensureImage(ctx context.Context, server string, e Engine, opts Options, rep Reporter) (string, error) {
	platform, err := e.Platform(ctx)
	if err != nil {
		return "", fmt.Errorf("engine: %w", err)
	}
	local := runtime.GOOS + "/" + runtime.GOARCH
	if platform != local {
		why := fmt.Sprintf("the server is %s and this luma binary %s", platform, local)
		return pullProxyImage(ctx, server, e, platform, why, opts, rep)
	}
	if err := checkStatic(opts.Exe); err != nil {
		return pullProxyImage(ctx, server, e, platform, err.Error(), opts, rep)
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
	spec := drivers.BuildSpec{Tag: tag, Dockerfile: "Dockerfile", Labels: map[string]string{naming.LabelRole: naming.RoleProxy}}
	if err := e.BuildImage(ctx, spec, tar); err != nil {
		return "", fmt.Errorf("build %s: %w", tag, err)
	}
	return tag, nil
}

// ensureProxy starts luma-proxy, or replaces its container (pl says
// why). A replaced proxy keeps its state volume and rejoins every network
// the old one was on, so other projects on the server keep being served.
// It never replaces a proxy while a deploy holds a lock: that deploy's
// switch and drain run through it.
func ensureProxy(ctx context.Context, server string, e Engine, p drivers.Proxy, image, network string, pl proxyPlan, opts Options, rep Reporter) (err error) {
	name := proxyclient.ContainerName
	old := pl.old
	if pl.kind == planReplace {
		if old.Running() {
			release, err := holdLocks(ctx, p, opts)
			if err != nil {
				return err
			}
			// Released through the new proxy: the locks are in its state
			// volume. Setup waits for it to answer before releasing.
			defer func() {
				if err == nil {
					err = waitReady(ctx, p)
				}
				release(server, rep)
			}()
		}
		rep.Printf(server, "Replacing %s (%s, %s → %s, %s): %s...", name, old.Image, pl.published, image, pl.want, pl.why)
		if err := e.Stop(ctx, name, proxyStopTimeout); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			return fmt.Errorf("stop old %s: %w", name, err)
		}
		if err := e.Remove(ctx, name); err != nil {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	rep.Printf(server, "Starting %s on %s...", name, pl.want)
	httpPorts, httpsPorts := pl.want.labels()
	labels := map[string]string{naming.LabelRole: naming.RoleProxy, naming.LabelHTTPPort: httpPorts,
		naming.LabelProxyRevision: strconv.Itoa(opts.Revision), naming.LabelProxySupervised: strconv.Itoa(opts.SupervisorRevision)}
	if httpsPorts != "" {
		labels[naming.LabelHTTPSPort] = httpsPorts
	}
	// Its own network first: the one it is created on cannot be left, and
	// no project's network should hold luma-proxy's ports hostage.
	if err := e.EnsureNetwork(ctx, naming.ProxyNetwork, map[string]string{naming.LabelRole: naming.RoleProxy}); err != nil {
		return fmt.Errorf("create network %s: %w", naming.ProxyNetwork, err)
	}
	spec := drivers.ContainerSpec{
		Name:        name,
		Image:       image,
		Labels:      labels,
		Network:     naming.ProxyNetwork,
		Volumes:     []string{naming.ProxyVolume + ":" + path.Dir(protocol.StatePath)},
		Ports:       pl.want.specs(),
		StopSignal:  "SIGTERM",
		StopTimeout: proxyStopTimeout,
		Restart:     "unless-stopped",
	}
	if err := e.Create(ctx, spec); err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if err := e.Connect(ctx, network, name, nil); err != nil {
		return fmt.Errorf("join %s to %s: %w", name, network, err)
	}
	for net := range old.Networks {
		if net == network || net == naming.ProxyNetwork || net == "bridge" {
			continue
		}
		// A network removed since is simply not rejoined.
		if err := e.Connect(ctx, net, name, nil); err != nil && !errors.Is(err, drivers.ErrNotFound) {
			return fmt.Errorf("rejoin %s to %s: %w", name, net, err)
		}
	}
	if err := e.Start(ctx, name); err != nil {
		e.Remove(context.WithoutCancel(ctx), name)
		return fmt.Errorf("start %s (is %s free?): %w", name, pl.want, err)
	}
	return nil
}

// portsOf words the ports luma-proxy publishes.
func portsOf(http, https string) string {
	switch {
	case http == "":
		return "no port"
	case https == "":
		return "port " + http
	}
	return fmt.Sprintf("ports %s (HTTP) and %s (HTTPS)", http, https)
}

const (
	// proxyStopTimeout is above the proxy's own graceful stop: up to 5 s
	// for admin calls, 5 s for idle keep-alive connections, 30 s for
	// requests in flight.
	proxyStopTimeout = 45 * time.Second
	// readyTimeout is how long a new proxy may take to answer.
	readyTimeout = 15 * time.Second
)

// replaceLease covers the replacement: the old proxy's graceful stop, the
// start and the wait for the new one. Renewals cannot run while no proxy
// answers, so the lease is long enough without them; a setup that dies
// leaves the locks to expire after it.
const replaceLease = proxyStopTimeout + readyTimeout + time.Minute

// releaseTimeout bounds the release of those locks: past it they expire.
var releaseTimeout = readyTimeout

// holdLocks takes the deploy lock of every app the running proxy knows
// (records and locks, of every project) and of opts.Apps, so that no
// deploy switches or drains through a proxy that is going away. It
// refuses when a live deploy holds one, or when the proxy cannot say: an
// error is no proof that nothing runs. release gives them back.
func holdLocks(ctx context.Context, p drivers.Proxy, opts Options) (release func(server string, rep Reporter), err error) {
	refuse := func(err error) error {
		return fmt.Errorf("not replacing luma-proxy: cannot read its deploy locks (%w); a deploy may be running through it. Run setup again; if it keeps failing, stop luma-proxy (docker stop luma-proxy) once no deploy runs, then run setup", err)
	}
	locks, err := p.Locks(ctx)
	if err != nil {
		return nil, refuse(err)
	}
	records, err := p.Records(ctx)
	if err != nil {
		return nil, refuse(err)
	}
	keys := map[string]bool{}
	for _, a := range opts.Apps {
		keys[opts.Project+"/"+a] = true
	}
	for _, l := range locks {
		keys[l.Key] = true
	}
	for _, r := range records {
		keys[r.Project+"/"+r.App] = true
	}
	holder := opts.Holder
	if holder == "" {
		holder = "luma setup"
	}
	var held []string
	release = func(server string, rep Reporter) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		for _, key := range held {
			if err := p.Unlock(ctx, key, holder); err != nil {
				rep.Printf(server, "Could not release the deploy lock %s (it expires in %s): %v", key, replaceLease, err)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if _, err := p.Lock(ctx, key, holder, replaceLease); err != nil {
			var l *drivers.LockedError
			if errors.As(err, &l) {
				err = fmt.Errorf("not replacing luma-proxy: a deploy of %s is running (held by %s since %s, state %s); run setup again when it is done",
					l.Lock.Key, l.Lock.Holder, l.Lock.Since.Format(time.RFC3339), l.Lock.State)
			} else {
				err = fmt.Errorf("not replacing luma-proxy: take the deploy lock %s: %w", key, err)
			}
			release(opts.Project, discard{})
			return nil, err
		}
		held = append(held, key)
	}
	return release, nil
}

type discard struct{}

func (discard) Printf(string, string, ...any) {}

// waitReady waits until the proxy answers on its admin socket.
func waitReady(ctx context.Context, p drivers.Proxy) error {
	deadline := time.Now().Add(readyTimeout)
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

// pullProxyImage is the luma-proxy image when this luma binary cannot
// become it (why): proxy.image, else the published image of this luma's
// version, pulled unless the server has it. When there is none to pull,
// the error says exactly what to do.
func pullProxyImage(ctx context.Context, server string, e Engine, platform, why string, opts Options, rep Reporter) (string, error) {
	image := cmp.Or(opts.ProxyImage, opts.DefaultProxyImage)
	remedy := fmt.Sprintf("run luma setup with a static luma built for %s (CGO_ENABLED=0 GOOS=%s GOARCH=%s make build), or set proxy.image in luma.yml to a luma-proxy image the server can pull (docs/proxy.md)",
		platform, path.Dir(platform), path.Base(platform))
	if image == "" {
		return "", fmt.Errorf("luma-proxy cannot be built from this luma binary (%s) and this development build of luma has no published luma-proxy image: %s", why, remedy)
	}
	if id, err := e.ImageID(ctx, image); err != nil {
		return "", err
	} else if id != "" {
		return image, nil
	}
	rep.Printf(server, "luma-proxy cannot be built from this luma binary (%s): pulling %s", why, image)
	if err := pull.Image(ctx, server, e, image, opts.Registry, rep); err != nil {
		return "", fmt.Errorf("pull the luma-proxy image %s: %w; %s", image, err, remedy)
	}
	return image, nil
}

// PublishedProxyImage is the luma-proxy image published for a luma
// release version (v1.2.3 or 1.2.3), "" for any other (development)
// version: goreleaser (.goreleaser.yaml) publishes it for linux/amd64 and
// linux/arm64.
func PublishedProxyImage(version string) string {
	v := strings.TrimPrefix(version, "v")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return ""
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return ""
		}
	}
	return "ghcr.io/luma-deploy/luma-proxy:" + v
}
