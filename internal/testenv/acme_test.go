package testenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// The test ACME server end to end, without luma-proxy: an account, an
// order whose HTTP-01 challenge pebble really fetches from 127.0.0.1 on
// HTTPPort, a certificate that verifies against Roots with the validity
// asked for, one by TLS-ALPN-01 on TLSPort, and an order refused when the
// host resolves where nobody answers.
func TestACMEIssuesAfterHTTP01(t *testing.T) {
	const validity = 90 * time.Second
	port, tlsPort := freePort(t), freePort(t)
	a := NewACME(t, ACMEOptions{HTTPPort: port, TLSPort: tlsPort, Validity: validity})

	// The challenge responder, where pebble dials for a host at 127.0.0.1.
	var tokens sync.Map
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := tokens.Load(strings.TrimPrefix(r.URL.Path, "/.well-known/acme-challenge/")); ok {
			w.Write([]byte(v.(string)))
			return
		}
		http.NotFound(w, r)
	})}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	// The TLS-ALPN-01 responder on TLSPort: pebble's handshake asks for
	// acme-tls/1 and the host's challenge certificate.
	var alpn sync.Map // host -> *tls.Certificate
	tl, err := tls.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)), &tls.Config{
		NextProtos: []string{acme.ALPNProto},
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c, ok := alpn.Load(h.ServerName); ok {
				return c.(*tls.Certificate), nil
			}
			return nil, errors.New("no challenge certificate for " + h.ServerName)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := &acme.Client{Key: key, DirectoryURL: a.Directory(), HTTPClient: a.HTTPClient()}
	if _, err := c.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("register: %v", err)
	}

	host := "app.luma.test"
	if err := a.SetHost(host, "127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	chain, err := issue(ctx, c, host, http01(c, &tokens))
	if err != nil {
		t.Fatalf("issue %s: %v", host, err)
	}
	if len(chain) < 2 {
		t.Fatalf("chain of %d certificates, want the leaf and pebble's intermediate", len(chain))
	}
	leaf, _ := x509.ParseCertificate(chain[0])
	inter := x509.NewCertPool()
	for _, der := range chain[1:] {
		c, _ := x509.ParseCertificate(der)
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: a.Roots(t), Intermediates: inter}); err != nil {
		t.Errorf("issued certificate does not verify against Roots: %v", err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: a.Roots(t), Intermediates: a.Intermediates(t)}); err != nil {
		t.Errorf("issued certificate does not verify against Roots and Intermediates: %v", err)
	}
	// Pebble's NotAfter is NotBefore + validity - 1s.
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != validity-time.Second {
		t.Errorf("validity %v, want %v", got, validity-time.Second)
	}

	// TLS-ALPN-01 on TLSPort.
	alpnHost := "alpn.luma.test"
	chain, err = issue(ctx, c, alpnHost, func(ch *acme.Challenge) error {
		if ch.Type != "tls-alpn-01" {
			return errSkip
		}
		cert, err := c.TLSALPN01ChallengeCert(ch.Token, alpnHost)
		alpn.Store(alpnHost, &cert)
		return err
	})
	if err != nil {
		t.Fatalf("issue %s by tls-alpn-01: %v", alpnHost, err)
	}
	leaf, _ = x509.ParseCertificate(chain[0])
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: alpnHost, Roots: a.Roots(t), Intermediates: a.Intermediates(t)}); err != nil {
		t.Errorf("certificate issued by tls-alpn-01 does not verify: %v", err)
	}

	// Validation is real: nobody answers on 127.0.0.2, so no certificate.
	other := "elsewhere.luma.test"
	if err := a.SetHost(other, "127.0.0.2"); err != nil {
		t.Fatal(err)
	}
	_, err = issue(ctx, c, other, http01(c, &tokens))
	var ae *acme.AuthorizationError
	if !errors.As(err, &ae) {
		t.Fatalf("order for %s resolving to 127.0.0.2: %v, want an authorization error", other, err)
	}
	if !strings.Contains(a.Log(), "127.0.0.2") {
		t.Errorf("pebble's log does not show it dialled 127.0.0.2:\n%s", a.Log())
	}
}

// errSkip: an answer function does not take this type of challenge.
var errSkip = errors.New("challenge type not answered")

// http01 answers HTTP-01 challenges through tokens.
func http01(c *acme.Client, tokens *sync.Map) func(*acme.Challenge) error {
	return func(ch *acme.Challenge) error {
		if ch.Type != "http-01" {
			return errSkip
		}
		resp, err := c.HTTP01ChallengeResponse(ch.Token)
		tokens.Store(ch.Token, resp)
		return err
	}
}

// issue orders a certificate for host, answering the first challenge
// answer takes, and returns the chain (leaf first).
func issue(ctx context.Context, c *acme.Client, host string, answer func(*acme.Challenge) error) ([][]byte, error) {
	o, err := c.AuthorizeOrder(ctx, acme.DomainIDs(host))
	if err != nil {
		return nil, err
	}
	for _, u := range o.AuthzURLs {
		z, err := c.GetAuthorization(ctx, u)
		if err != nil {
			return nil, err
		}
		var ch *acme.Challenge
		for _, x := range z.Challenges {
			if err := answer(x); err == nil {
				ch = x
				break
			} else if err != errSkip {
				return nil, err
			}
		}
		if ch == nil {
			return nil, errors.New("no challenge of the type wanted offered")
		}
		if _, err := c.Accept(ctx, ch); err != nil {
			return nil, err
		}
		if _, err := c.WaitAuthorization(ctx, z.URI); err != nil {
			return nil, err
		}
	}
	if o, err = c.WaitOrder(ctx, o.URI); err != nil {
		return nil, err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{host}}, key)
	if err != nil {
		return nil, err
	}
	der, _, err := c.CreateCertFromOrder(ctx, o, csr, true)
	return der, err
}
