package fake

import (
	"context"
	"errors"
	"slices"

	"github.com/luma-deploy/luma/drivers"
)

// ClaimPorts records a project's ports, as luma-proxy does.
func (h *Host) ClaimPorts(ctx context.Context, c drivers.PortClaim) error {
	if err := h.call(ctx, "ClaimPorts", c.Project); err != nil {
		return err
	}
	if c.Project == "" || c.HTTP <= 0 {
		return errors.New("a port claim needs a project and an HTTP port")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claims = drivers.WithClaim(h.claims, c)
	return nil
}

// PortClaims lists the claims by project.
func (h *Host) PortClaims(ctx context.Context) ([]drivers.PortClaim, error) {
	if err := h.call(ctx, "PortClaims", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.claims), nil
}
