package drivers

import (
	"context"
	"slices"
	"strconv"
	"strings"
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

// WithClaim is claims with c in place of its project's earlier claim,
// sorted by project: how luma-proxy (and the fake) keep them.
func WithClaim(claims []PortClaim, c PortClaim) []PortClaim {
	out := slices.DeleteFunc(slices.Clone(claims), func(o PortClaim) bool { return o.Project == c.Project })
	out = append(out, c)
	slices.SortFunc(out, func(a, b PortClaim) int { return strings.Compare(a.Project, b.Project) })
	return out
}
