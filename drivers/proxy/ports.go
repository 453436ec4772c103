package proxy

import (
	"context"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// ClaimPorts records the ports a project asked the proxy to publish.
func (c *Client) ClaimPorts(ctx context.Context, claim drivers.PortClaim) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpClaimPorts, Claim: &claim})
	return err
}

// PortClaims lists every project's port claim on the server.
func (c *Client) PortClaims(ctx context.Context) ([]drivers.PortClaim, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpPortClaims})
	return resp.Claims, err
}
