package multiserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
)

// httpsPort is luma-proxy's HTTPS port on the servers of the HTTPS test.
const httpsPort = 8443

// TestHTTPSTwoServersOneHost: one app with ssl: true on servers 1 and 2
// under one host whose DNS (pebble's) names server 2 only. Server 1's
// proxy orders its own certificate, pebble validates it on server 2, and
// server 2's proxy relays the challenge to its peer; both servers end up
// serving a valid certificate of their own, and status shows both.
func TestHTTPSTwoServersOneHost(t *testing.T) {
	ca := testenv.NewACME(t, testenv.ACMEOptions{HTTPPort: proxyPort, TLSPort: httpsPort})
	v1 := testenv.BuildHello(t, "v1")
	p := newProject(t, "mshttps")
	p.servers, p.hosts = servers[:2], []string{"ms-https.luma.test"}
	host := p.hosts[0]
	if err := ca.SetHost(host, servers[1]); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.CACertFile())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p.dir, "ca.pem"), caPEM, 0o644)
	yml := fmt.Sprintf(`name: %s
ssh:
  user: root
  key: %s
  known_hosts: %s
proxy:
  http_port: %d
  https_port: %d
  acme: {email: ops@luma.test, directory: %q, ca_certificate: ca.pem}
apps:
  %s:
    image: %s
    servers: [%s]
    proxy:
      hosts: [%s]
      app_port: 3000
      ssl: true
    health_check: {start_period: 5s, interval: 500ms, timeout: 2s, retries: 2}
    drain_timeout: 5s
    stop_timeout: 5s
`, p.name, env["LUMA_SSH_KEY"], env["LUMA_KNOWN_HOSTS"], proxyPort, httpsPort, ca.Directory(),
		p.app, v1, testenv.Quote(p.servers), host)
	if err := os.WriteFile(filepath.Join(p.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}

	r := mustLuma(t, p.dir, "setup")
	for _, s := range p.servers {
		if want := fmt.Sprintf("[%s] Ready: luma-proxy serving on ports %d (HTTP) and %d (HTTPS) ✓", s, proxyPort, httpsPort); !strings.Contains(r.Stdout, want) {
			t.Errorf("setup output lacks %q", want)
		}
	}
	mustLuma(t, p.dir, "deploy", "--release", "r1")

	// Each proxy orders in the background after the switch.
	deployed := time.Now()
	var certs map[string]drivers.Certificate
	for deadline := deployed.Add(90 * time.Second); ; {
		certs = p.certificates(t, host)
		if len(certs) == 2 && !certs[servers[0]].NotAfter.IsZero() && !certs[servers[1]].NotAfter.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not both servers have a certificate for %s within 90s: %+v", host, certs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("both certificates in status %.2fs after the deploy returned", time.Since(deployed).Seconds())

	roots := ca.Roots(t)
	serials := map[string]string{}
	for _, s := range p.servers {
		addr := net.JoinHostPort(s, fmt.Sprint(httpsPort))
		leaf, err := testenv.VerifyServed(addr, host, roots)
		if err != nil {
			t.Errorf("[%s] %v", s, err)
			continue
		}
		serials[s] = leaf.SerialNumber.String()
		if c := certs[s]; c.Source != "acme" || !c.NotAfter.Equal(leaf.NotAfter) || c.Issuer != leaf.Issuer.CommonName {
			t.Errorf("[%s] serves a certificate by %q until %s; status says %+v", s, leaf.Issuer.CommonName, leaf.NotAfter, c)
		}
		resp, err := testenv.HTTPSClient(addr, roots).Get("https://" + host + "/version")
		if err != nil {
			t.Errorf("[%s] GET https://%s/version: %v", s, host, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v := map[string]string{}
		if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil || v["version"] != "v1" {
			t.Errorf("[%s] GET https://%s/version: %s %s, want v1", s, host, resp.Status, body)
		}
	}
	// Keys never leave a server: each proxy holds its own certificate.
	if len(serials) == 2 && serials[servers[0]] == serials[servers[1]] {
		t.Errorf("both servers serve serial %s, want one certificate each", serials[servers[0]])
	}

	r = mustLuma(t, p.dir, "status")
	for _, s := range p.servers {
		want := fmt.Sprintf("[%s] https://%s: certificate by %s (acme), expires %s", s, host, certs[s].Issuer, certs[s].NotAfter.UTC().Format(time.DateOnly))
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("status lacks %q", want)
		}
	}
}

// certificates is host's certificate on each server, from `luma status --json`.
func (p *project) certificates(t *testing.T, host string) map[string]drivers.Certificate {
	t.Helper()
	r := mustLuma(t, p.dir, "status", "--json")
	var doc struct {
		Apps []struct {
			Servers []struct {
				Name         string
				Certificates []drivers.Certificate
			}
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Apps) != 1 {
		t.Fatalf("status --json: %v\n%s", err, r.Stdout)
	}
	out := map[string]drivers.Certificate{}
	for _, s := range doc.Apps[0].Servers {
		for _, c := range s.Certificates {
			if c.Host == host {
				out[s.Name] = c
			}
		}
	}
	return out
}
