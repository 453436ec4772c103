package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// acmeProxy is a proxy and the ACME server that validates on its ports
// (on 127.0.0.1, where pebble resolves hosts with no record).
func acmeProxy(t *testing.T, validity time.Duration) (*testProxy, *testenv.ACME, Options) {
	t.Helper()
	testenv.SkipShort(t, "the test ACME server")
	p := startProxy(t, httpsOptions(t))
	port := func(addr string) int { _, p, _ := net.SplitHostPort(addr); n, _ := strconv.Atoi(p); return n }
	ca := testenv.NewACME(t, testenv.ACMEOptions{HTTPPort: port(p.addr), TLSPort: port(p.httpsAddr), Validity: validity})
	opts := p.opts
	opts.HTTPAddr, opts.HTTPSAddr = p.addr, p.httpsAddr // a restart listens there again
	return p, ca, opts
}

func acmeRoute(ca *testenv.ACME, peers ...string) drivers.RouteTLS {
	pem, _ := os.ReadFile(ca.CACertFile())
	return drivers.RouteTLS{Redirect: true, Peers: peers,
		ACME: &drivers.ACME{Directory: ca.Directory(), Email: "ops@luma.test", CACertificate: string(pem)}}
}

// served is the certificate the proxy at addr serves for host, verified
// against the ACME server's roots.
func served(t *testing.T, ca *testenv.ACME, addr, host string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: host, RootCAs: ca.Roots(t)})
	if err != nil {
		t.Fatalf("TLS to %s for %s: %v", addr, host, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func (p *testProxy) certificates() []drivers.Certificate {
	return p.handle(context.Background(), protocol.Request{Op: protocol.OpCertificates}).Certificates
}

// waitCertificate waits until the proxy has a certificate for host, or
// fails with what the proxy says about it.
func (p *testProxy) waitCertificate(t *testing.T, host string, newerThan time.Time) drivers.Certificate {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		for _, c := range p.certificates() {
			if c.Host == host && c.NotAfter.After(newerThan) {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s: %+v", host, p.certificates())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestACMEIssuesRenewsAndKeeps: a route with ACME gets a certificate from
// a real CA (pebble, validating HTTP-01 on the proxy's port); HTTP is then
// redirected; a short-lived certificate is renewed a third of its life
// before expiry with no restart; a restarted proxy serves the certificate
// it had, without a new order.
func TestACMEIssuesRenewsAndKeeps(t *testing.T) {
	p, ca, opts := acmeProxy(t, 30*time.Second)
	p.setTLSRoute(t, "blog/web", []string{"blog.luma.test"}, acmeRoute(ca), protoBackend(t))
	first := p.waitCertificate(t, "blog.luma.test", time.Time{})
	if first.Source != "acme" || first.LastError != "" || !strings.Contains(first.Issuer, "Pebble") {
		t.Errorf("certificate %+v", first)
	}
	leaf := served(t, ca, p.httpsAddr, "blog.luma.test")
	if !leaf.NotAfter.Equal(first.NotAfter) {
		t.Errorf("serves a certificate until %s, status says %s", leaf.NotAfter, first.NotAfter)
	}
	c := p.client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Get("http://blog.luma.test/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(res.Header.Get("Location"), "https://blog.luma.test") {
		t.Errorf("plain HTTP: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	// Renewed at 2/3 of 30 s, while serving.
	second := p.waitCertificate(t, "blog.luma.test", first.NotAfter)
	if leaf := served(t, ca, p.httpsAddr, "blog.luma.test"); !leaf.NotAfter.Equal(second.NotAfter) {
		t.Errorf("after renewal serves until %s, want %s", leaf.NotAfter, second.NotAfter)
	}

	p.stop()
	p2 := startProxy(t, opts)
	if leaf := served(t, ca, p2.httpsAddr, "blog.luma.test"); !leaf.NotAfter.Equal(second.NotAfter) {
		t.Errorf("after a restart serves until %s, want the kept %s", leaf.NotAfter, second.NotAfter)
	}
}

// TestACMEChallengeOnAnotherProxy: two proxies serve one host; the CA
// validates on the one DNS names (B), while A orders: B relays A's token,
// and both end up with a certificate.
func TestACMEChallengeOnAnotherProxy(t *testing.T) {
	b, ca, _ := acmeProxy(t, 0)
	optsA := testOptions(t)
	optsA.HTTPSAddr = "127.0.0.1:0"
	a := startProxy(t, optsA)
	a.setTLSRoute(t, "blog/web", []string{"shared.luma.test"}, acmeRoute(ca, b.addr), protoBackend(t))
	b.setTLSRoute(t, "blog/web", []string{"shared.luma.test"}, acmeRoute(ca, a.addr), protoBackend(t))
	for name, p := range map[string]*testProxy{"A": a, "B": b} {
		if got := p.waitCertificate(t, "shared.luma.test", time.Time{}); got.LastError != "" {
			t.Errorf("%s: %+v", name, got)
		}
	}
	served(t, ca, a.httpsAddr, "shared.luma.test")
	served(t, ca, b.httpsAddr, "shared.luma.test")
}

// TestACMEFailureBreaksNothingElse: a host the CA cannot validate (its
// DNS points where nothing answers) gets an error and a retry time in the
// status; another app on the same proxy keeps its certificate and plain
// HTTP keeps working for both.
func TestACMEFailureBreaksNothingElse(t *testing.T) {
	p, ca, _ := acmeProxy(t, 0)
	p.setTLSRoute(t, "blog/ok", []string{"ok.luma.test"}, acmeRoute(ca), protoBackend(t))
	p.waitCertificate(t, "ok.luma.test", time.Time{})
	if err := ca.SetHost("broken.luma.test", "127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	p.setTLSRoute(t, "blog/broken", []string{"broken.luma.test"}, acmeRoute(ca), protoBackend(t))
	var broken drivers.Certificate
	eventually(t, "the failure in the status", func() bool {
		for _, c := range p.certificates() {
			if c.Host == "broken.luma.test" && c.LastError != "" {
				broken = c
				return true
			}
		}
		return false
	})
	if !broken.NotAfter.IsZero() || broken.NextAttempt.Before(time.Now().Add(20*time.Second)) {
		t.Errorf("broken: %+v", broken)
	}
	served(t, ca, p.httpsAddr, "ok.luma.test")
	if code, body := p.get(t, "http://broken.luma.test/"); code != 200 || body != "proto=http" {
		t.Errorf("plain HTTP of the broken host: %d %q", code, body)
	}
}

// TestACMETLSALPN: with TLS-ALPN-01 chosen (a CA offering only that),
// the proxy answers the challenge on its HTTPS port with the acme-tls/1
// certificate and gets its certificate.
func TestACMETLSALPN(t *testing.T) {
	challengeOrder = []string{"tls-alpn-01"}
	t.Cleanup(func() { challengeOrder = []string{"http-01", "tls-alpn-01"} })
	p, ca, _ := acmeProxy(t, 0)
	p.setTLSRoute(t, "blog/alpn", []string{"alpn.luma.test"}, acmeRoute(ca), protoBackend(t))
	if got := p.waitCertificate(t, "alpn.luma.test", time.Time{}); got.LastError != "" {
		t.Fatalf("certificate %+v", got)
	}
	served(t, ca, p.httpsAddr, "alpn.luma.test") // only TLS-ALPN-01 was answered
}
