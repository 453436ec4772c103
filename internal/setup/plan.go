package setup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
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
	kind planKind
	old  drivers.Container
	info drivers.ProxyInfo
	// want is what luma-proxy publishes after the setup: what it
	// published, and this project's ports (ports.go); published is what
	// the running container publishes.
	want, published ports
	why             string
	// image, for an upgrade in place: the luma-proxy image whose binary
	// is run, when this luma binary cannot be (imageWhy says why).
	image, imageWhy string
}

// DowngradeError refuses to put an older luma-proxy in place of a newer
// one: a teammate's older luma would silently undo an upgrade (and a
// proxy older than revision 13 drops the state it does not know: history,
// port claims).
type DowngradeError struct{ Running, Mine int }

func (e *DowngradeError) Error() string {
	return fmt.Sprintf("luma-proxy runs revision %d, newer than this luma's (revision %d): a newer luma set it up; upgrade luma, or run `luma setup --allow-downgrade` to go back to revision %d",
		e.Running, e.Mine, e.Mine)
}

// planProxy looks at the server's luma-proxy and decides, changing
// nothing.
func planProxy(ctx context.Context, e Engine, p Proxy, opts Options) (proxyPlan, error) {
	mine := drivers.PortClaim{Project: opts.Project, HTTP: opts.HTTPPort, HTTPS: opts.HTTPSPort}
	pl := proxyPlan{want: ports{}.add(mine.HTTP, mine.HTTPS)}
	old, err := e.Inspect(ctx, proxyclient.ContainerName)
	switch {
	case errors.Is(err, drivers.ErrNotFound):
		pl.kind = planStart
		return pl, nil
	case err != nil:
		return pl, err
	}
	pl.old = old
	pl.published = ports{http: parsePorts(old.Labels[naming.LabelHTTPPort]), https: parsePorts(old.Labels[naming.LabelHTTPSPort])}
	if err := checkClaim(mine, claimsOf(ctx, p, old, pl.published)); err != nil {
		return pl, err
	}
	// Ports are never dropped: another project may serve on them.
	pl.want = pl.published.add(mine.HTTP, mine.HTTPS)
	if !old.Running() {
		pl.kind, pl.why = planReplace, "it is "+old.State
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
	if info.Revision > opts.Revision && !opts.AllowDowngrade {
		return pl, &DowngradeError{Running: info.Revision, Mine: opts.Revision}
	}
	switch {
	case !pl.want.equal(pl.published):
		pl.kind = planReplace
		pl.why = fmt.Sprintf("%s → %s for project %s; published ports change only with a new container, so connections are refused for about a second, for every project it serves", pl.published, pl.want, opts.Project)
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
		return fmt.Sprintf("Would start %s on %s", name, pl.want)
	case planUpToDate:
		return fmt.Sprintf("%s is up to date (revision %d): nothing to change", name, pl.info.Revision)
	case planUpgrade:
		return fmt.Sprintf("Would upgrade %s in place (%s), under the deploy locks, losing no request", name, pl.why)
	}
	return fmt.Sprintf("Would replace %s, under the deploy locks: %s", name, pl.why)
}

// claimsOf are the projects' claims on the ports luma-proxy publishes,
// with a claim of "another project" for each port no claim covers (a
// luma-proxy too old to keep claims, or a stopped one, keeps none).
func claimsOf(ctx context.Context, p Proxy, old drivers.Container, published ports) []drivers.PortClaim {
	var claims []drivers.PortClaim
	if old.Running() {
		claims, _ = p.PortClaims(ctx)
	}
	claimed := ports{}
	for _, c := range claims {
		claimed = claimed.add(c.HTTP, c.HTTPS)
	}
	for _, n := range published.http {
		if !slices.Contains(claimed.http, n) {
			claims = append(claims, drivers.PortClaim{Project: anotherProject, HTTP: n})
		}
	}
	for _, n := range published.https {
		if !slices.Contains(claimed.https, n) {
			claims = append(claims, drivers.PortClaim{Project: anotherProject, HTTPS: n})
		}
	}
	return claims
}
