package fake

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/tlscert"
)

// SetCertificate keeps an app's own certificate after the checks
// luma-proxy makes (key, hosts, expiry at the real time, as the proxy's).
func (h *Host) SetCertificate(ctx context.Context, app string, c drivers.OwnCertificate) error {
	if err := h.call(ctx, "SetCertificate", app); err != nil {
		return err
	}
	if err := tlscert.Check(c.Certificate, c.PrivateKey, c.Hosts, time.Now()); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.certs[app] = c
	return nil
}

// Certificates reports the HTTPS hosts of the routes: custom ones with
// their certificate; ACME ones without (the fake obtains none).
func (h *Host) Certificates(ctx context.Context) ([]drivers.Certificate, error) {
	if err := h.call(ctx, "Certificates", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []drivers.Certificate
	for app, r := range h.routes {
		if r.TLS == nil {
			continue
		}
		for _, host := range r.Hosts {
			s := drivers.Certificate{Host: host, App: app, Source: "acme"}
			if own, ok := h.certs[app]; ok {
				s.Source = "custom"
				if c, err := tlscert.Parse(own.Certificate, own.PrivateKey); err == nil {
					s.Issuer, s.NotAfter = c.Leaf.Issuer.CommonName, c.Leaf.NotAfter
				}
			}
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b drivers.Certificate) int { return strings.Compare(a.Host, b.Host) })
	return out, nil
}

// Certificate returns the certificate an app was given.
func (h *Host) Certificate(app string) (drivers.OwnCertificate, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.certs[app]
	return c, ok
}
