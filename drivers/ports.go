package drivers

import (
	"context"
	"strconv"
)

// PortClaim is what one project asked of a server's luma-proxy: the host
// ports it serves the project's apps on. One luma-proxy serves every
// project of a server, publishing the union of their claims.
type PortClaim struct {
	Project string `json:"project"`
	HTTP    int    `json:"http"`
	HTTPS   int    `json:"https,omitempty"` // 0: the project serves no HTTPS
}

// PortClaims are the claims a server's luma-proxy keeps.
type PortClaims interface {
	// ClaimPorts records c, replacing the project's earlier claim.
	ClaimPorts(ctx context.Context, c PortClaim) error
	// PortClaims lists every project's claim, by project.
	PortClaims(ctx context.Context) ([]PortClaim, error)
}

// String words the claim: "HTTP 80, HTTPS 443".
func (c PortClaim) String() string {
	switch {
	case c.HTTPS == 0:
		return "HTTP " + strconv.Itoa(c.HTTP)
	case c.HTTP == 0:
		return "HTTPS " + strconv.Itoa(c.HTTPS)
	}
	return "HTTP " + strconv.Itoa(c.HTTP) + ", HTTPS " + strconv.Itoa(c.HTTPS)
}
