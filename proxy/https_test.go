package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// testCA signs certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "luma test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns PEM of a certificate for hosts valid until notAfter, and
// of its key.
func (ca *testCA) issue(t *testing.T, notAfter time.Time, hosts ...string) (certPEM, keyPEM string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		DNSNames: hosts, NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func httpsOptions(t *testing.T) Options {
	o := testOptions(t)
	o.HTTPSAddr = "127.0.0.1:0"
	return o
}

// httpsClient dials the proxy's HTTPS listener for any URL, trusting pool,
// with HTTP/2 when h2.
func (p *testProxy) httpsClient(pool *x509.CertPool, h2 bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", p.httpsAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: h2,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (p *testProxy) setTLSRoute(t *testing.T, app string, hosts []string, rt drivers.RouteTLS, targets ...string) {
	t.Helper()
	resp := p.handle(context.Background(), protocol.Request{
		Op: protocol.OpSetRoute, Route: &drivers.Route{App: app, Hosts: hosts, Targets: targets, TLS: &rt},
	})
	if resp.Error != "" {
		t.Fatalf("set route %s: %s", app, resp.Error)
	}
}

func (p *testProxy) setCertificate(app, certPEM, keyPEM string, hosts ...string) protocol.Response {
	return p.handle(context.Background(), protocol.Request{
		Op: protocol.OpSetCertificate, App: app,
		Certificate: &drivers.OwnCertificate{Certificate: certPEM, PrivateKey: keyPEM, Hosts: hosts},
	})
}

// protoBackend answers the request's protocol as the app saw it.
func protoBackend(t *testing.T) string {
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s", r.Header.Get("X-Forwarded-Proto"))
	})
	return addr(srv)
}

// TestCustomCertificateServesHTTPS: an app's own certificate serves its
// host over HTTP/1.1 and HTTP/2, TLS 1.1 is refused, the app is told the
// request came over https, plain HTTP is redirected with 308 keeping the
// path and query, HSTS is sent when asked, and the certificate survives a
// restart of the proxy.
func TestCustomCertificateServesHTTPS(t *testing.T) {
	ca := newTestCA(t)
	opts := httpsOptions(t)
	p := startProxy(t, opts)
	p.setTLSRoute(t, "blog/web", []string{"secure.test"}, drivers.RouteTLS{Redirect: true, HSTS: true, HTTPSPort: 8443}, protoBackend(t))
	certPEM, keyPEM := ca.issue(t, time.Now().Add(24*time.Hour), "secure.test")
	if r := p.setCertificate("blog/web", certPEM, keyPEM, "secure.test"); r.Error != "" {
		t.Fatalf("set certificate: %s", r.Error)
	}

	for _, h2 := range []bool{false, true} {
		res, err := p.httpsClient(ca.pool, h2).Get("https://secure.test/")
		if err != nil {
			t.Fatalf("h2=%v: %v", h2, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != want || string(body) != "proto=https" {
			t.Errorf("h2=%v: HTTP/%d %q, want HTTP/%d proto=https", h2, res.ProtoMajor, body, want)
		}
		if got := res.Header.Get("Strict-Transport-Security"); got != hstsValue {
			t.Errorf("HSTS %q", got)
		}
	}

	old := p.httpsClient(ca.pool, false)
	old.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS11
	old.Transport.(*http.Transport).TLSClientConfig.MinVersion = tls.VersionTLS10
	if _, err := old.Get("https://secure.test/"); err == nil {
		t.Error("TLS 1.1 was accepted")
	}

	req, _ := http.NewRequest(http.MethodPost, "http://secure.test/a/b?c=d", strings.NewReader("x"))
	c := p.client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusPermanentRedirect || loc != "https://secure.test:8443/a/b?c=d" {
		t.Errorf("plain HTTP: %d %q, want 308 to https://secure.test:8443/a/b?c=d", res.StatusCode, loc)
	}

	st := p.handle(context.Background(), protocol.Request{Op: protocol.OpCertificates}).Certificates
	if len(st) != 1 || st[0].Source != "custom" || st[0].Issuer != "luma test CA" || st[0].Host != "secure.test" {
		t.Errorf("certificates %+v", st)
	}

	p.stop()
	p2 := startProxy(t, opts)
	res, err = p2.httpsClient(ca.pool, false).Get("https://secure.test/")
	if err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	res.Body.Close()
}

// TestBadCustomCertificatesAreRefused: the proxy refuses a certificate
// whose key is another's, one that does not cover a host and an expired
// one, with the reason, and keeps serving the one it had.
func TestBadCustomCertificatesAreRefused(t *testing.T) {
	ca := newTestCA(t)
	p := startProxy(t, httpsOptions(t))
	p.setTLSRoute(t, "blog/web", []string{"secure.test"}, drivers.RouteTLS{}, protoBackend(t))
	good, goodKey := ca.issue(t, time.Now().Add(time.Hour), "secure.test")
	if r := p.setCertificate("blog/web", good, goodKey, "secure.test"); r.Error != "" {
		t.Fatal(r.Error)
	}
	_, otherKey := ca.issue(t, time.Now().Add(time.Hour), "secure.test")
	wrongHost, wrongHostKey := ca.issue(t, time.Now().Add(time.Hour), "other.test")
	expired, expiredKey := ca.issue(t, time.Now().Add(-time.Minute), "secure.test")
	for _, c := range []struct{ name, cert, key, want string }{
		{"mismatched key", good, otherKey, "does not belong to the certificate"},
		{"wrong host", wrongHost, wrongHostKey, "does not cover secure.test"},
		{"expired", expired, expiredKey, "expired"},
		{"not PEM", "hello", goodKey, "no PEM CERTIFICATE"},
	} {
		r := p.setCertificate("blog/web", c.cert, c.key, "secure.test")
		if !strings.Contains(r.Error, c.want) {
			t.Errorf("%s: error %q, want %q", c.name, r.Error, c.want)
		}
		if strings.Contains(r.Error, "PRIVATE KEY") {
			t.Errorf("%s: the error shows the key", c.name)
		}
	}
	res, err := p.httpsClient(ca.pool, false).Get("https://secure.test/")
	if err != nil {
		t.Fatalf("the good certificate stopped serving: %v", err)
	}
	res.Body.Close()
}

// TestHostWithoutCertificateSaysWhy: HTTPS to a host with no certificate
// yet gets a page that says so; plain HTTP is not redirected to it and
// still reaches the app.
func TestHostWithoutCertificateSaysWhy(t *testing.T) {
	p := startProxy(t, httpsOptions(t))
	p.setTLSRoute(t, "blog/web", []string{"pending.test"}, drivers.RouteTLS{Redirect: true}, protoBackend(t))
	c := p.httpsClient(nil, false)
	c.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify = true
	res, err := c.Get("https://pending.test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "no certificate for pending.test yet") {
		t.Errorf("HTTPS: %d %q", res.StatusCode, body)
	}
	if code, body := p.get(t, "http://pending.test/"); code != 200 || body != "proto=http" {
		t.Errorf("plain HTTP: %d %q, want the app", code, body)
	}
}

// TestWebSocketOverTLS: a WebSocket reaches the app through HTTPS while
// the same client speaks HTTP/2 for requests.
func TestWebSocketOverTLS(t *testing.T) {
	ca := newTestCA(t)
	p := startProxy(t, httpsOptions(t))
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		typ, msg, err := c.Read(r.Context())
		if err == nil {
			c.Write(r.Context(), typ, append([]byte("echo "), msg...))
		}
		c.Close(websocket.StatusNormalClosure, "")
	})
	p.setTLSRoute(t, "blog/ws", []string{"ws.test"}, drivers.RouteTLS{}, addr(srv))
	certPEM, keyPEM := ca.issue(t, time.Now().Add(time.Hour), "ws.test")
	if r := p.setCertificate("blog/ws", certPEM, keyPEM, "ws.test"); r.Error != "" {
		t.Fatal(r.Error)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// An HTTP/1.1-only transport, as browsers use for WebSockets when the
	// server offers no extended CONNECT.
	c, _, err := websocket.Dial(ctx, "wss://ws.test/", &websocket.DialOptions{HTTPClient: p.httpsClient(ca.pool, false)})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	c.Write(ctx, websocket.MessageText, []byte("hi"))
	if _, msg, err := c.Read(ctx); err != nil || string(msg) != "echo hi" {
		t.Errorf("read %q %v", msg, err)
	}
}

// TestChallengeRelay: an HTTP-01 token this proxy does not hold is asked
// of the route's peers, and the answer passes through; a relayed request
// is never relayed again; a route without peers answers 404.
func TestChallengeRelay(t *testing.T) {
	a := startProxy(t, testOptions(t))
	b := startProxy(t, testOptions(t))
	a.setTLSRoute(t, "blog/web", []string{"shared.test"}, drivers.RouteTLS{Redirect: true, Peers: []string{b.addr}}, protoBackend(t))
	b.setTLSRoute(t, "blog/web", []string{"shared.test"}, drivers.RouteTLS{Redirect: true, Peers: []string{a.addr}}, protoBackend(t))
	b.certs.putToken("tok123", "tok123.thumb")

	for name, p := range map[string]*testProxy{"holder": b, "peer": a} {
		if code, body := p.get(t, "http://shared.test"+challengePrefix+"tok123"); code != 200 || body != "tok123.thumb" {
			t.Errorf("%s: %d %q", name, code, body)
		}
	}
	if code, _ := a.get(t, "http://shared.test"+challengePrefix+"unknown"); code != 404 {
		t.Errorf("unknown token: %d, want 404", code)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://shared.test"+challengePrefix+"tok123", nil)
	req.Header.Set(relayHeader, "1")
	res, err := a.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Errorf("a relayed request was relayed again: %d", res.StatusCode)
	}
}
