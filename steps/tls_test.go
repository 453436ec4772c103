package steps

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
)

func ownCertificate(t *testing.T, host string) drivers.OwnCertificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return drivers.OwnCertificate{
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		PrivateKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
		Hosts:       []string{host},
	}
}

// An HTTPS app's route carries its TLS settings, and on each server the
// other servers' proxies as challenge peers (never itself).
func TestTLSRouteNamesPeers(t *testing.T) {
	e := newEnv(t, 1, three...)
	e.app.TLS = &drivers.RouteTLS{ACME: &drivers.ACME{Directory: "https://ca.test/dir"}, Redirect: true, HTTPSPort: 443}
	e.app.ProxyAddrs = map[string]string{"server1": "10.0.0.1:80", "server2": "10.0.0.2:80", "server3": "10.0.0.3:80"}
	e.mustDeploy("r1", naming.Blue)
	for i, h := range e.hosts {
		r, _ := h.Route("shop/blog")
		if r.TLS == nil || r.TLS.ACME == nil || !r.TLS.Redirect {
			t.Fatalf("[%s] route TLS %+v", h.Name(), r.TLS)
		}
		var want []string
		for j, a := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
			if j != i {
				want = append(want, a)
			}
		}
		if !slices.Equal(r.TLS.Peers, want) {
			t.Errorf("[%s] peers %v, want %v", h.Name(), r.TLS.Peers, want)
		}
	}
	if e.app.TLS.Peers != nil {
		t.Error("the app's own TLS settings were changed")
	}
}

// An app's own certificate reaches every proxy before the switch; one a
// proxy refuses rolls every server back before any route moves, and the
// key is printed nowhere.
func TestOwnCertificateBeforeSwitch(t *testing.T) {
	e := newEnv(t, 1, "server1", "server2")
	e.app.TLS = &drivers.RouteTLS{Redirect: true}
	own := ownCertificate(t, "blog.example.com")
	e.app.Certificate = &own
	for _, h := range e.hosts {
		h.Inject(fake.Fault{Op: "SetRoute", Nth: 1, Pass: true, Do: func() {
			if _, ok := h.Certificate("shop/blog"); !ok {
				t.Errorf("[%s] route set before the certificate", h.Name())
			}
		}})
	}
	e.mustDeploy("r1", naming.Blue)

	wrong := ownCertificate(t, "other.example.com")
	wrong.Hosts = []string{"blog.example.com"}
	e.app.Certificate = &wrong
	res, err := e.deploy(bg, "r2")
	if err == nil || !strings.Contains(err.Error(), "does not cover blog.example.com") {
		t.Fatalf("err %v", err)
	}
	for i, h := range e.hosts {
		if res.Servers[i].Outcome != RolledBack {
			t.Errorf("[%s] outcome %s", h.Name(), res.Servers[i].Outcome)
		}
		if n := len(h.RouteLog("shop/blog")); n != 1 {
			t.Errorf("[%s] the route moved: %+v", h.Name(), h.RouteLog("shop/blog"))
		}
		e.serving(h, naming.Blue, "r1")
		if c, _ := h.Certificate("shop/blog"); c.Certificate != own.Certificate {
			t.Errorf("[%s] the good certificate was replaced", h.Name())
		}
	}
	if strings.Contains(e.out.text(), "PRIVATE KEY") || strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Error("the key was printed")
	}
}
