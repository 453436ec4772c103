package proxy

import (
	"errors"
	"slices"

	"github.com/luma-deploy/luma/drivers"
)

// ClaimPorts records the ports a project asked this proxy to publish;
// luma setup publishes the union of every project's claim and refuses a
// project whose claim clashes with another's.
func (s *Store) ClaimPorts(c drivers.PortClaim) error {
	if c.Project == "" || c.HTTP <= 0 || c.HTTPS < 0 {
		return errors.New("a port claim needs a project and an HTTP port")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claims = drivers.WithClaim(s.claims, c)
	return nil
}

// PortClaims lists every project's claim, by project.
func (s *Store) PortClaims() []drivers.PortClaim {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.claims)
}
