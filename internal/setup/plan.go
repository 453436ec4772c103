package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"

	"github.com/luma-deploy/luma/drivers"
	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/internal/naming"
)

// What setup does with a server's luma-proxy.
type planKind int

const (
	planStart    planKind = iota // none runs: start one
	planUpToDate                 // the same proxy revision runs on the same ports
	planUpgrade                  // another revision runs under the supervisor: hand over in place, no request lost
	planReplace                  // a new container: ports changed, it is stopped, or it cannot upgrade in place
)

// proxyPlan is what setup will do, and why, decided before any change.
type proxyPlan struct {
	kind            planKind
	old             drivers.Container
	info            drivers.ProxyInfo
	port, httpsPort string // to publish
	why             string
	// image, for an upgrade in place: the luma-proxy image whose binary
	// is run, when this luma binary cannot be (imageWhy says why).
	image, imageWhy string
}

// planProxy looks at the server's luma-proxy and decides, changing
// nothing.
func planProxy(ctx context.Context, e Engine, p Proxy, opts Options) (proxyPlan, error) {
	pl := proxyPlan{port: strconv.Itoa(opts.HTTPPort), httpsPort: httpsLabel(opts.HTTPSPort)}
	old, err := e.Inspect(ctx, proxyclient.ContainerName)
	switch {
	case errors.Is(err, drivers.ErrNotFound):
		pl.kind = planStart
		return pl, nil
	case err != nil:
		return pl, err
	}
	pl.old = old
	if pl.httpsPort == "" {
		// A project without HTTPS does not take the port away from one
		// that has it on the same server.
		pl.httpsPort = old.Labels[naming.LabelHTTPSPort]
	}
	oldPorts := portsOf(old.Labels[naming.LabelHTTPPort], old.Labels[naming.LabelHTTPSPort])
	switch {
	case !old.Running():
		pl.kind, pl.why = planReplace, "it is "+old.State
		return pl, nil
	case old.Labels[naming.LabelHTTPPort] != pl.port || old.Labels[naming.LabelHTTPSPort] != pl.httpsPort:
		pl.kind = planReplace
		pl.why = fmt.Sprintf("%s → %s; published ports change only with a new container, so connections are refused for about a second", oldPorts, portsOf(pl.port, pl.httpsPort))
		return pl, nil
	}
	info, err := p.Info(ctx)
	if err != nil {
		// holdLocks will refuse: a proxy that does not answer may be
		// in the middle of a deploy.
		pl.kind, pl.why = planReplace, fmt.Sprintf("it does not answer (%v)", err)
		return pl, nil
	}
	pl.info = info
	switch {
	case info.Revision == opts.Revision:
		pl.kind = planUpToDate
	case !info.Supervised:
		pl.kind = planReplace
		pl.why = fmt.Sprintf("revision %d → %d, and this luma-proxy predates upgrades in place: this once, a restart (connections refused for about a second)", info.Revision, opts.Revision)
	case old.Labels[naming.LabelProxySupervised] != strconv.Itoa(opts.SupervisorRevision):
		pl.kind = planReplace
		pl.why = fmt.Sprintf("revision %d → %d, and its supervisor changed (%s → %d), which only a new container runs: a restart (connections refused for about a second)",
			info.Revision, opts.Revision, old.Labels[naming.LabelProxySupervised], opts.SupervisorRevision)
	}
	if pl.kind == planUpToDate || pl.kind == planReplace {
		return pl, nil
	}
	switch why := copyableBinary(e, ctx, opts); {
	case why != nil:
		pl.image = cmp.Or(opts.ProxyImage, opts.DefaultProxyImage)
		if pl.image == "" { // ensureImage says what to do
			pl.kind = planReplace
			pl.why = fmt.Sprintf("revision %d → %d, and %v", info.Revision, opts.Revision, why)
			return pl, nil
		}
		// From a Mac, say: the binary comes from the luma-proxy image.
		pl.kind, pl.imageWhy = planUpgrade, why.Error()
		pl.why = fmt.Sprintf("revision %d → the one in %s", info.Revision, pl.image)
	default:
		pl.kind = planUpgrade
		pl.why = fmt.Sprintf("revision %d → %d", info.Revision, opts.Revision)
	}
	return pl, nil
}

// copyableBinary tells why this luma binary cannot run in the server's
// luma-proxy (nil when it can).
func copyableBinary(e Engine, ctx context.Context, opts Options) error {
	platform, err := e.Platform(ctx)
	if err != nil {
		return err
	}
	if local := runtime.GOOS + "/" + runtime.GOARCH; platform != local {
		return fmt.Errorf("this luma binary is %s and the server %s", local, platform)
	}
	return checkStatic(opts.Exe)
}

// words is the dry run's line.
func (pl proxyPlan) words() string {
	name := proxyclient.ContainerName
	switch pl.kind {
	case planStart:
		return fmt.Sprintf("Would start %s on %s", name, portsOf(pl.port, pl.httpsPort))
	case planUpToDate:
		return fmt.Sprintf("%s is up to date (revision %d): nothing to change", name, pl.info.Revision)
	case planUpgrade:
		return fmt.Sprintf("Would upgrade %s in place (%s), under the deploy locks, losing no request", name, pl.why)
	}
	return fmt.Sprintf("Would replace %s, under the deploy locks: %s", name, pl.why)
}
