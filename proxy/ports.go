package proxy

import (
	"errors"
	"slices"
	"strings"

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
	s.claims = slices.DeleteFunc(s.claims, func(o drivers.PortClaim) bool { return o.Project == c.Project })
	s.claims = append(s.claims, c)
	slices.SortFunc(s.claims, func(a, b drivers.PortClaim) int { return strings.Compare(a.Project, b.Project) })
	return nil
}

// PortClaims lists every project's claim, by project.
func (s *Store) PortClaims() []drivers.PortClaim {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.claims)
}
