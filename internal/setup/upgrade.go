package setup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"time"

	proxyclient "github.com/luma-deploy/luma/drivers/proxy"
	"github.com/luma-deploy/luma/proxy"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// upgradeTimeout bounds a handover: the new binary starts, accepts on the
// shared sockets and takes the admin socket.
var upgradeTimeout = 30 * time.Second

// upgradeInPlace copies this luma binary onto luma-proxy's state volume
// and has its supervisor hand over to it (proxy/supervisor.go): requests
// in flight finish on the old process, new ones go to the new one, none
// is refused. It runs under the deploy locks of every app the proxy
// knows; a new binary that fails leaves the old one serving.
func upgradeInPlace(ctx context.Context, server string, e Engine, p Proxy, pl proxyPlan, opts Options, rep Reporter) (err error) {
	bin, err := proxyBinary(ctx, server, e, pl, opts, rep)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(bin)
	name := "luma-" + hex.EncodeToString(sum[:])[:12]
	if path.Base(pl.info.Binary) == name {
		rep.Printf(server, "%s is up to date (it runs the binary of %s)", proxyclient.ContainerName, pl.image)
		return nil
	}
	release, err := holdLocks(ctx, p, opts)
	if err != nil {
		return err
	}
	defer release(server, rep)
	volume := path.Dir(protocol.StatePath)
	target := path.Join(proxy.BinDir(protocol.StatePath), name)
	rep.Printf(server, "Upgrading %s in place (%s)...", proxyclient.ContainerName, pl.why)
	if err := e.PutFile(ctx, proxyclient.ContainerName, volume, path.Join(path.Base(proxy.BinDir(protocol.StatePath)), name), bin, 0o755); err != nil {
		return fmt.Errorf("copy the new luma-proxy binary: %w", err)
	}
	before, _ := p.UpgradeStatus(ctx) // an earlier upgrade's outcome is not this one's
	if err := p.Upgrade(ctx, target); err != nil {
		return fmt.Errorf("upgrade luma-proxy: %w", err)
	}
	deadline := time.Now().Add(upgradeTimeout)
	for {
		info, err := p.Info(ctx)
		if err == nil && info.Binary == target {
			rep.Printf(server, "%s upgraded to revision %d with no restart", proxyclient.ContainerName, info.Revision)
			return nil
		}
		if st, serr := p.UpgradeStatus(ctx); serr == nil && st != before && st.Binary == target && !st.OK {
			return fmt.Errorf("luma-proxy was not upgraded, the running one keeps serving: %s", st.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("luma-proxy was not upgraded within %s, the running one keeps serving (see docker logs %s)", upgradeTimeout, proxyclient.ContainerName)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// proxyBinary is the binary to upgrade to: this luma, or, when it cannot
// run on the server (a Mac's), the one in the luma-proxy image, pulled
// if the server lacks it.
func proxyBinary(ctx context.Context, server string, e Engine, pl proxyPlan, opts Options, rep Reporter) ([]byte, error) {
	if pl.image == "" {
		bin, err := os.ReadFile(opts.Exe)
		if err != nil {
			return nil, fmt.Errorf("read luma executable: %w", err)
		}
		return bin, nil
	}
	platform, err := e.Platform(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	image, err := pullProxyImage(ctx, server, e, platform, pl.imageWhy, opts, rep)
	if err != nil {
		return nil, err
	}
	bin, err := e.ImageFile(ctx, image, "/luma")
	if err != nil {
		return nil, fmt.Errorf("read the luma-proxy binary from %s: %w", image, err)
	}
	return bin, nil
}
