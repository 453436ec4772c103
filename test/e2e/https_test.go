package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
)

// httpsPort is luma-proxy's HTTPS port in these tests, published by the
// first `luma setup` of a project with ssl; projects without ssl leave it.
const httpsPort = 8443

var httpsAddr = fmt.Sprintf("127.0.0.1:%d", httpsPort)

// httpsProject is a one-app project served over HTTPS on the local engine.
type httpsProject struct {
	name, app, host, dir string
	// acme is luma.yml's proxy.acme block, ssl the app's ssl value.
	acme, ssl string
}

func newHTTPSProject(t *testing.T, name, app, host string) *httpsProject {
	p := &httpsProject{name: name, app: app, host: host, dir: t.TempDir()}
	removeProject(t, name)
	// Also take the route (and an own certificate) out of the shared
	// proxy; runs before removeProject.
	t.Cleanup(func() { luma(t, p.dir, "remove", p.app) })
	return p
}

func (p *httpsProject) write(t *testing.T, image string) {
	t.Helper()
	yml := fmt.Sprintf(`name: %s
proxy:
  http_port: %d
  https_port: %d
%s
apps:
  %s:
    image: %s
    servers: [localhost]
    proxy:
      hosts: [%s]
      app_port: 3000
      ssl: %s
    health_check: {start_period: 2s, interval: 200ms, timeout: 2s, retries: 2}
    drain_timeout: 5s
    stop_timeout: 5s
`, p.name, proxyPort, httpsPort, p.acme, p.app, image, p.host, p.ssl)
	if err := os.WriteFile(filepath.Join(p.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// certificate is the host's entry in `luma status --json`, if any.
func (p *httpsProject) certificate(t *testing.T) (drivers.Certificate, bool) {
	t.Helper()
	r := mustLuma(t, p.dir, "status", "--json")
	var doc struct {
		Apps []struct {
			Servers []struct {
				Certificates []drivers.Certificate
			}
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Apps) != 1 || len(doc.Apps[0].Servers) != 1 {
		t.Fatalf("status --json: %v\n%s", err, r.Stdout)
	}
	for _, c := range doc.Apps[0].Servers[0].Certificates {
		if c.Host == p.host {
			return c, true
		}
	}
	return drivers.Certificate{}, false
}

// getHTTPS asks the proxy's HTTPS port for path on host, verifying its
// certificate against roots.
func getHTTPS(c *http.Client, host, path string) (int, string, error) {
	resp, err := c.Get("https://" + host + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func versionHTTPS(t *testing.T, c *http.Client, host string) map[string]string {
	t.Helper()
	code, body, err := getHTTPS(c, host, "/version")
	if err != nil || code != 200 {
		t.Fatalf("GET https://%s/version: %d %v %s", host, code, err, body)
	}
	v := map[string]string{}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode /version %q: %v", body, err)
	}
	return v
}

// TestHTTPSACME: an app with ssl: true gets a certificate from a real
// ACME server (pebble) through the shared luma-proxy, validated on its
// published HTTP port; it is served by SNI, plain HTTP is redirected,
// status shows it, a proxy restart keeps it, and a deploy under HTTPS
// load loses no request.
func TestHTTPSACME(t *testing.T) {
	ca := testenv.NewACME(t, testenv.ACMEOptions{HTTPPort: proxyPort, TLSPort: httpsPort})
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	p := newHTTPSProject(t, "e2ehttps", "webhttps", "e2e-https.luma.test")
	caPEM, err := os.ReadFile(ca.CACertFile())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p.dir, "ca.pem"), caPEM, 0o644)
	p.acme = fmt.Sprintf("  acme: {email: ops@luma.test, directory: %q, ca_certificate: ca.pem}", ca.Directory())
	p.ssl = "true"
	p.write(t, v1)

	r := mustLuma(t, p.dir, "setup")
	if want := fmt.Sprintf("Ready: luma-proxy serving on ports %d (HTTP) and %d (HTTPS) ✓", proxyPort, httpsPort); !strings.Contains(r.Stdout, want) {
		t.Errorf("setup output lacks %q", want)
	}
	if got := docker(t, "port", "luma-proxy", "443/tcp"); !strings.Contains(got, fmt.Sprintf(":%d", httpsPort)) {
		t.Fatalf("luma-proxy publishes 443 on %q, want %d", got, httpsPort)
	}
	mustLuma(t, p.dir, "deploy", "--release", "r1")

	// The order runs in the background after the switch: poll status.
	deployed := time.Now()
	var cert drivers.Certificate
	for deadline := deployed.Add(90 * time.Second); ; {
		c, ok := p.certificate(t)
		if ok && !c.NotAfter.IsZero() {
			cert = c
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no certificate for %s within 90s; status has %+v (found %v)", p.host, c, ok)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("first certificate in status %.2fs after the deploy returned", time.Since(deployed).Seconds())
	if cert.Source != "acme" || cert.Issuer == "" || cert.LastError != "" {
		t.Errorf("status certificate %+v, want source acme with an issuer and no error", cert)
	}

	roots := ca.Roots(t)
	leaf, err := testenv.VerifyServed(httpsAddr, p.host, roots)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(cert.NotAfter) || leaf.Issuer.CommonName != cert.Issuer {
		t.Errorf("served certificate by %q until %s; status says %q until %s", leaf.Issuer.CommonName, leaf.NotAfter, cert.Issuer, cert.NotAfter)
	}
	hc := testenv.HTTPSClient(httpsAddr, roots)
	if v := versionHTTPS(t, hc, p.host); v["version"] != "v1" {
		t.Errorf("HTTPS serves %v, want v1", v)
	}
	if resp, err := hc.Get("https://" + p.host + "/up"); err != nil {
		t.Errorf("GET https://%s/up: %v", p.host, err)
	} else {
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("HTTPS answered over %s, want HTTP/2", resp.Proto)
		}
	}

	// Plain HTTP: 308 to the same path on the HTTPS port.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/version?x=1", proxyPort), nil)
	req.Host = p.host
	noFollow := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Do(req); err != nil {
		t.Errorf("plain HTTP: %v", err)
	} else {
		resp.Body.Close()
		want := fmt.Sprintf("https://%s:%d/version?x=1", p.host, httpsPort)
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("plain HTTP: %s to %q, want 308 to %q", resp.Status, resp.Header.Get("Location"), want)
		}
	}

	r = mustLuma(t, p.dir, "status")
	if want := fmt.Sprintf("[localhost] https://%s: certificate by %s (acme), expires %s", p.host, cert.Issuer, leaf.NotAfter.UTC().Format(time.DateOnly)); !strings.Contains(r.Stdout, want) {
		t.Errorf("status lacks %q", want)
	}

	// A restart keeps the certificate: the first handshake that succeeds
	// presents it (no placeholder, no new order).
	docker(t, "restart", "luma-proxy")
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err := testenv.ServedCertificate(httpsAddr, p.host)
		if err == nil {
			if got.SerialNumber.Cmp(leaf.SerialNumber) != 0 || !got.NotAfter.Equal(leaf.NotAfter) {
				t.Errorf("after the restart: certificate %s by %q until %s, want serial %s until %s",
					got.SerialNumber, got.Issuer.CommonName, got.NotAfter, leaf.SerialNumber, leaf.NotAfter)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Setup of another project without ssl leaves the HTTPS port (and
	// the proxy) as they are.
	plain := newHTTPSProject(t, "e2ehttpsplain", "webplain", "e2e-plain.luma.test")
	plain.ssl = "false"
	plain.write(t, v1)
	r = mustLuma(t, plain.dir, "setup")
	if strings.Contains(r.Stdout, "Replacing luma-proxy") {
		t.Errorf("setup without ssl replaced luma-proxy")
	}
	if got := docker(t, "port", "luma-proxy", "443/tcp"); !strings.Contains(got, fmt.Sprintf(":%d", httpsPort)) {
		t.Errorf("after a setup without ssl luma-proxy publishes 443 on %q, want %d", got, httpsPort)
	}
	if _, err := testenv.VerifyServed(httpsAddr, p.host, roots); err != nil {
		t.Errorf("after a setup without ssl: %v", err)
	}

	// A deploy under HTTPS load (HTTP/2 on kept connections, HTTP/1.1 on
	// fresh ones) loses nothing and needs no new certificate.
	p.write(t, v2)
	fresh := testenv.HTTPSClient(httpsAddr, roots)
	fresh.Transport.(*http.Transport).DisableKeepAlives = true
	l := startLoadWith("https://"+p.host, p.host, testenv.HTTPSClient(httpsAddr, roots), fresh)
	mustLuma(t, p.dir, "deploy", "--release", "r2")
	time.Sleep(300 * time.Millisecond) // load keeps going after the switch
	l.check(t, "a deploy over HTTPS")
	if v := versionHTTPS(t, hc, p.host); v["version"] != "v2" {
		t.Errorf("HTTPS serves %v after the deploy, want v2", v)
	}
	if got, err := testenv.VerifyServed(httpsAddr, p.host, roots); err != nil {
		t.Error(err)
	} else if got.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after the second deploy: serial %s, want %s (the same certificate)", got.SerialNumber, leaf.SerialNumber)
	}
}

// ownCA issues certificates for the own-certificate test.
type ownCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newOwnCA(t *testing.T) *ownCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "luma e2e own CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &ownCA{cert, key, pool}
}

// issue returns a certificate for host with the given serial and its key,
// both PEM.
func (ca *ownCA) issue(t *testing.T, host string, serial int64) (certPEM, keyPEM string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

// oneLine is a secret's PEM on one line, newlines as \n.
func oneLine(pem string) string { return strings.ReplaceAll(strings.TrimSpace(pem), "\n", `\n`) }

// quoted is a secret's PEM across lines inside double quotes.
func quoted(pem string) string { return `"` + strings.TrimSpace(pem) + `"` }

// TestHTTPSOwnCertificate: an app's own certificate from .luma/secrets
// (one line with \n, or across lines in double quotes) is served; a key
// that is not the certificate's and a certificate for another host are
// refused by luma deploy (exit 1) before anything changes, and no PEM
// shows in the output.
func TestHTTPSOwnCertificate(t *testing.T) {
	v1 := testenv.BuildHello(t, "v1")
	p := newHTTPSProject(t, "e2eown", "webown", "e2e-own.luma.test")
	p.ssl = "{certificate: OWN_CERT, private_key: OWN_KEY}"
	p.write(t, v1)
	ca := newOwnCA(t)
	os.MkdirAll(filepath.Join(p.dir, ".luma"), 0o700)
	secrets := func(cert, key string) {
		t.Helper()
		s := "OTHER=x\nOWN_CERT=" + cert + "\nOWN_KEY=" + key + "\n"
		if err := os.WriteFile(filepath.Join(p.dir, ".luma", "secrets"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	serial := func(what string) int64 {
		t.Helper()
		c, err := testenv.VerifyServed(httpsAddr, p.host, ca.pool)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return c.SerialNumber.Int64()
	}
	hc := testenv.HTTPSClient(httpsAddr, ca.pool)

	certA, keyA := ca.issue(t, p.host, 10)
	secrets(oneLine(certA), quoted(keyA))
	mustLuma(t, p.dir, "setup")
	mustLuma(t, p.dir, "deploy", "--release", "r1")
	if s := serial("one-line certificate"); s != 10 {
		t.Errorf("serves serial %d, want 10", s)
	}
	if v := versionHTTPS(t, hc, p.host); v["version"] != "v1" {
		t.Errorf("HTTPS serves %v, want v1", v)
	}

	// A new certificate, the formats swapped: served after the deploy.
	certB, keyB := ca.issue(t, p.host, 11)
	secrets(quoted(certB), oneLine(keyB))
	mustLuma(t, p.dir, "deploy", "--release", "r2")
	if s := serial("multi-line certificate"); s != 11 {
		t.Errorf("serves serial %d, want 11", s)
	}
	r := mustLuma(t, p.dir, "status")
	if want := fmt.Sprintf("[localhost] https://%s: certificate by luma e2e own CA (custom), expires", p.host); !strings.Contains(r.Stdout, want) {
		t.Errorf("status lacks %q", want)
	}
	before := containers(t, p.name, p.app)

	certC, keyC := ca.issue(t, "other.luma.test", 12)
	for _, c := range []struct {
		what, cert, key, want string
	}{
		{"a key that is not the certificate's", oneLine(certB), oneLine(keyA), "the private key does not belong to the certificate"},
		{"a certificate for another host", oneLine(certC), quoted(keyC), "the certificate does not cover " + p.host + " (it covers other.luma.test)"},
	} {
		secrets(c.cert, c.key)
		r := luma(t, p.dir, "deploy", "--release", "r3")
		// README's exit codes: 1 is a luma.yml or secrets error (2 is a
		// bad flag or argument).
		if r.Code != 1 {
			t.Errorf("%s: exit %d, want 1 (invalid secrets, nothing changed)", c.what, r.Code)
		}
		out := r.Stdout + r.Stderr
		for _, w := range []string{"apps.webown.proxy.ssl", "secrets OWN_CERT and OWN_KEY", c.want, "nothing was changed"} {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q", c.what, w)
			}
		}
		for _, secret := range []string{"-----BEGIN", pemBody(keyA), pemBody(keyB), pemBody(keyC), pemBody(certB), pemBody(certC)} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: the output shows PEM %q", c.what, secret)
			}
		}
		if s := serial(c.what); s != 11 {
			t.Errorf("%s: serves serial %d, want 11 (the old certificate)", c.what, s)
		}
		if got := containers(t, p.name, p.app); strings.Join(got, ",") != strings.Join(before, ",") {
			t.Errorf("%s: containers %v, were %v", c.what, got, before)
		}
	}
}

// pemBody is a piece of a PEM's base64 body, to look for in output.
func pemBody(p string) string {
	lines := strings.Split(strings.TrimSpace(p), "\n")
	return lines[1][:32]
}

// TestHTTPSZeroDowntime is the short zero-downtime run over HTTPS: the
// benchmark's app serves its own certificate and the load (~100/s, HTTP/2
// on reused connections and HTTP/1.1 on fresh ones) goes through the HTTPS
// port across 10 deploys; any failed request fails the run.
func TestHTTPSZeroDowntime(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	dir := t.TempDir()
	bin := filepath.Join(dir, "zdt")
	build := exec.Command("go", "build", "-o", bin, "./bench/zerodowntime")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bench: %v\n%s", err, out)
	}
	const project = "zdthttps"
	removeProject(t, project)
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "-luma", lumaBin, "-images", v1+","+v2, "-project", project,
		"-https", "-https-port", fmt.Sprint(httpsPort), "-port", fmt.Sprint(proxyPort),
		"-deploys", "10", "-rate", "100", "-baseline", "0", "-bursts", "0",
		"-slow-ms", "1500", "-mix", "get,fresh,post-8k,post-64k,download,slow", "-app-keepalive", "1s",
		"-json", report)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("zero-downtime run over HTTPS failed: %v", err)
	}
	var rep struct {
		Load struct{ Sent, Failed int }
	}
	if b, err := os.ReadFile(report); err != nil || json.Unmarshal(b, &rep) != nil || rep.Load.Sent == 0 {
		t.Fatalf("report %s: %v, %+v", report, err, rep)
	}
	t.Logf("HTTPS zero-downtime: %d requests, %d failed across 10 deploys", rep.Load.Sent, rep.Load.Failed)
}
