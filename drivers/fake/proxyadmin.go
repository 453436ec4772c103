package fake

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// The fake's luma-proxy is the container named luma-proxy: its revision
// and supervision come from its labels (luma.proxy_revision,
// luma.proxy_supervised), as setup makes them, until an upgrade in place
// runs a binary PutFile wrote, whose revision UpgradeRevision gives.

// UpgradeRevision is the revision of any binary an upgrade runs (0: the
// revision stays).
func (h *Host) SetUpgradeRevision(rev int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.upgradeRevision = rev
}

// Info reports the fake luma-proxy.
func (h *Host) Info(ctx context.Context) (drivers.ProxyInfo, error) {
	if err := h.call(ctx, "Info", ""); err != nil {
		return drivers.ProxyInfo{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers["luma-proxy"]
	if !ok || !c.Running() {
		return drivers.ProxyInfo{}, errors.New("luma-proxy is not running")
	}
	if h.proxyInfo.Binary != "" {
		return h.proxyInfo, nil
	}
	rev, _ := strconv.Atoi(c.Labels["luma.proxy_revision"])
	return drivers.ProxyInfo{Version: "fake", Revision: rev, Binary: "/luma", Supervised: c.Labels["luma.proxy_supervised"] != ""}, nil
}

// Upgrade runs the binary at path, which PutFile must have written into
// luma-proxy.
func (h *Host) Upgrade(ctx context.Context, path string) error {
	if err := h.call(ctx, "Upgrade", path); err != nil {
		h.mu.Lock()
		h.upgrade = drivers.UpgradeStatus{Binary: path, Error: err.Error(), At: time.Now()}
		h.mu.Unlock()
		return nil // like the proxy: the op is accepted, the handover fails
	}
	info, err := h.Info(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.files["luma-proxy:"+path]; !ok {
		return errors.New("binary " + path + " is not in luma-proxy")
	}
	if h.upgradeRevision != 0 {
		info.Revision = h.upgradeRevision
	}
	info.Binary = path
	h.proxyInfo = info
	h.upgrade = drivers.UpgradeStatus{Binary: path, OK: true, At: time.Now()}
	return nil
}

// UpgradeStatus is the last upgrade's outcome.
func (h *Host) UpgradeStatus(ctx context.Context) (drivers.UpgradeStatus, error) {
	if err := h.call(ctx, "UpgradeStatus", ""); err != nil {
		return drivers.UpgradeStatus{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.upgrade, nil
}
