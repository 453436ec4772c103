package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/tlscert"
)

// certStore holds the certificates luma-proxy serves: an app's own
// (custom, given by the CLI) and those obtained by ACME, one per host.
// Both live on the state volume, so they survive restarts and
// replacements of the proxy.
//
//	<dir>/custom/<app>.pem          an app's own certificate
//	<dir>/acme/<directory>/<host>.pem   obtained by ACME from <directory>
type certStore struct {
	dir    string
	logger *slog.Logger
	now    func() time.Time

	mu     sync.RWMutex
	custom map[string]*tls.Certificate // app → its own certificate
	hosts  map[string]*hostCert        // host → what serves it
	alpn   map[string]*tls.Certificate // host → TLS-ALPN-01 challenge certificate
	tokens map[string]string           // HTTP-01 token → key authorization
}

// hostCert is one routed HTTPS host and its certificate, if any.
type hostCert struct {
	host string
	app  string
	acme *drivers.ACME // nil: the app's own certificate serves it

	cert        *tls.Certificate // nil until obtained
	lastErr     string
	nextAttempt time.Time
	failures    int
	working     bool
	ready       chan struct{} // closed once cert is set
}

func newCertStore(dir string, logger *slog.Logger) *certStore {
	return &certStore{
		dir: dir, logger: logger, now: time.Now,
		custom: map[string]*tls.Certificate{},
		hosts:  map[string]*hostCert{},
		alpn:   map[string]*tls.Certificate{},
		tokens: map[string]string{},
	}
}

// directoryDir is where one ACME directory's account and certificates are
// kept: named by a hash of its URL so two CAs never mix.
func (cs *certStore) directoryDir(directory string) string {
	sum := sha256.Sum256([]byte(directory))
	return filepath.Join(cs.dir, "acme", hex.EncodeToString(sum[:6]))
}

func (cs *certStore) acmePath(directory, host string) string {
	return filepath.Join(cs.directoryDir(directory), host+".pem")
}

func (cs *certStore) customPath(app string) string {
	return filepath.Join(cs.dir, "custom", strings.ReplaceAll(app, "/", "__")+".pem")
}

// SetCustom checks and saves an app's own certificate for hosts.
func (cs *certStore) SetCustom(app, certPEM, keyPEM string, hosts []string) error {
	c, err := tlscert.Parse(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("certificate of %s: %w", app, err)
	}
	if err := tlscert.CheckLeaf(c.Leaf, hosts, cs.now()); err != nil {
		return fmt.Errorf("certificate of %s: %w", app, err)
	}
	if err := writeCertificateFile(cs.customPath(app), c); err != nil {
		return fmt.Errorf("saving the certificate of %s: %w", app, err)
	}
	cs.mu.Lock()
	cs.custom[app] = c
	cs.mu.Unlock()
	return nil
}

// sync makes the store serve exactly the HTTPS hosts of routes: hosts
// that appear are loaded from disk when a certificate is there; hosts
// that go stop being served (their files stay, for a route coming back).
func (cs *certStore) sync(routes []drivers.Route) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	want := map[string]bool{}
	apps := map[string]bool{}
	for _, r := range routes {
		if r.TLS == nil {
			continue
		}
		apps[r.App] = true
		for _, h := range r.Hosts {
			want[h] = true
			hc := cs.hosts[h]
			if hc == nil || hc.app != r.App || !sameACME(hc.acme, r.TLS.ACME) {
				hc = &hostCert{host: h, app: r.App, acme: r.TLS.ACME, ready: make(chan struct{})}
				cs.hosts[h] = hc
				cs.loadLocked(hc)
				if hc.cert == nil {
					// The deploy switches every server within moments:
					// let the others' routes (and their relays) be there
					// before the CA knocks on them.
					hc.nextAttempt = cs.now().Add(orderSettle)
				}
			}
		}
		if _, ok := cs.custom[r.App]; !ok && r.TLS.ACME == nil {
			if c, err := readCertificateFile(cs.customPath(r.App)); err == nil {
				cs.custom[r.App] = c
			}
		}
	}
	for h := range cs.hosts {
		if !want[h] {
			delete(cs.hosts, h)
		}
	}
	for app := range cs.custom {
		if !apps[app] {
			delete(cs.custom, app)
		}
	}
}

// forgetCustom deletes an app's own certificate (its route is removed).
func (cs *certStore) forgetCustom(app string) {
	cs.mu.Lock()
	delete(cs.custom, app)
	cs.mu.Unlock()
	if err := os.Remove(cs.customPath(app)); err != nil && !errors.Is(err, os.ErrNotExist) {
		cs.logger.Warn("removing a certificate", "app", app, "err", err)
	}
}

func sameACME(a, b *drivers.ACME) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// loadLocked reads the host's ACME certificate from disk, if one is there.
func (cs *certStore) loadLocked(hc *hostCert) {
	if hc.acme == nil {
		return
	}
	c, err := readCertificateFile(cs.acmePath(hc.acme.Directory, hc.host))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			cs.logger.Warn("certificate file unreadable, obtaining a new one", "host", hc.host, "err", err)
		}
		return
	}
	if cs.now().After(c.Leaf.NotAfter) {
		return
	}
	hc.setCert(c)
}

func (hc *hostCert) setCert(c *tls.Certificate) {
	hc.cert = c
	hc.lastErr, hc.failures, hc.nextAttempt = "", 0, time.Time{}
	select {
	case <-hc.ready:
	default:
		close(hc.ready)
	}
}

// renewAt is when a certificate is renewed: a third of its lifetime
// before it expires (30 days of Let's Encrypt's 90).
func renewAt(c *tls.Certificate) time.Time {
	life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	return c.Leaf.NotAfter.Add(-life / 3)
}

// needsWork tells whether the host should be sent to the CA now.
func (hc *hostCert) needsWork(now time.Time) bool {
	if hc.working || now.Before(hc.nextAttempt) {
		return false
	}
	return hc.cert == nil || !now.Before(renewAt(hc.cert))
}

// due returns the hosts to obtain or renew now, marked as being worked on,
// and when the next one will be due (zero when none will).
func (cs *certStore) due() ([]*hostCert, time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := cs.now()
	var out []*hostCert
	var next time.Time
	for _, hc := range cs.hosts {
		if hc.acme == nil || hc.working {
			continue
		}
		if hc.needsWork(now) {
			hc.working = true
			out = append(out, hc)
			continue
		}
		at := hc.nextAttempt
		if hc.cert != nil && (at.IsZero() || renewAt(hc.cert).After(at)) {
			at = renewAt(hc.cert)
		}
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return out, next
}

// done records the outcome of one attempt for hc.
func (cs *certStore) done(hc *hostCert, c *tls.Certificate, err error) {
	if c != nil {
		if werr := writeCertificateFile(cs.acmePath(hc.acme.Directory, hc.host), c); werr != nil {
			cs.logger.Error("saving a certificate (it is served, but must be obtained again after a restart)", "host", hc.host, "err", werr)
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	hc.working = false
	if c != nil {
		hc.setCert(c)
		return
	}
	hc.failures++
	hc.lastErr = err.Error()
	hc.nextAttempt = cs.now().Add(retryDelay(hc.failures))
}

// orderSettle is how long a new HTTPS host waits before its first order.
const orderSettle = 2 * time.Second

// retryDelay backs off after failures: 30 s, 1 min, 2, 4 … up to an
// hour, so a broken DNS record does not burn the CA's failed-validation
// limit (Let's Encrypt: 5 per host and hour).
func retryDelay(failures int) time.Duration {
	d := 30 * time.Second << min(failures-1, 7)
	return min(d, time.Hour)
}

// lookup finds the certificate serving host: the app's own, else the one
// obtained by ACME. wait is closed when an ACME certificate arrives for a
// host that has none yet (nil when nothing is coming).
func (cs *certStore) lookup(host string) (c *tls.Certificate, wait <-chan struct{}) {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	hc := cs.hosts[host]
	if hc == nil {
		hc = cs.hosts[wildcardOf(host)]
	}
	if hc == nil {
		return nil, nil
	}
	if c := cs.custom[hc.app]; c != nil {
		return c, nil
	}
	if hc.cert != nil {
		return hc.cert, nil
	}
	if hc.acme != nil && hc.lastErr == "" {
		return nil, hc.ready
	}
	return nil, nil
}

// wildcardOf is the wildcard host a name falls under: a.b.com → *.b.com.
func wildcardOf(host string) string {
	_, rest, ok := strings.Cut(host, ".")
	if !ok {
		return ""
	}
	return "*." + rest
}

// hasCertificate tells whether host is served over HTTPS right now.
func (cs *certStore) hasCertificate(host string) bool {
	c, _ := cs.lookup(host)
	return c != nil
}

// pending describes why host has no certificate yet, for the page shown
// in its place.
func (cs *certStore) pending(host string) string {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	hc := cs.hosts[host]
	switch {
	case hc == nil:
		return "no app is served over HTTPS at this host"
	case hc.acme == nil:
		return "the app's certificate has not been given to luma-proxy (run luma deploy)"
	case hc.lastErr != "":
		return fmt.Sprintf("obtaining a certificate from %s failed: %s (next attempt %s)",
			hc.acme.Directory, hc.lastErr, hc.nextAttempt.UTC().Format(time.RFC3339))
	}
	return "a certificate is being obtained from " + hc.acme.Directory
}

// status lists every HTTPS host's certificate, sorted by host.
func (cs *certStore) status() []drivers.Certificate {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	out := make([]drivers.Certificate, 0, len(cs.hosts))
	for _, hc := range cs.hosts {
		s := drivers.Certificate{Host: hc.host, App: hc.app, Source: "acme", LastError: hc.lastErr, NextAttempt: hc.nextAttempt}
		c := hc.cert
		if own := cs.custom[hc.app]; own != nil || hc.acme == nil {
			s.Source, s.LastError, s.NextAttempt, c = "custom", "", time.Time{}, own
		}
		if c != nil {
			s.Issuer, s.NotAfter = issuerName(c.Leaf), c.Leaf.NotAfter
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b drivers.Certificate) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// Challenge answers, while an ACME order waits for the CA.

func (cs *certStore) putToken(token, keyAuth string) {
	cs.mu.Lock()
	cs.tokens[token] = keyAuth
	cs.mu.Unlock()
}

func (cs *certStore) dropToken(token string) {
	cs.mu.Lock()
	delete(cs.tokens, token)
	cs.mu.Unlock()
}

func (cs *certStore) token(token string) (string, bool) {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	ka, ok := cs.tokens[token]
	return ka, ok
}

func (cs *certStore) putALPN(host string, c *tls.Certificate) {
	cs.mu.Lock()
	cs.alpn[host] = c
	cs.mu.Unlock()
}

func (cs *certStore) dropALPN(host string) {
	cs.mu.Lock()
	delete(cs.alpn, host)
	cs.mu.Unlock()
}

func (cs *certStore) alpnCert(host string) *tls.Certificate {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return cs.alpn[host]
}
