package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
	// The proxy image is FROM scratch: without these roots it could not
	// verify Let's Encrypt's directory.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/tlscert"
)

// acmeIssuer obtains certificates from ACME directories, one account per
// directory and email, kept on the state volume.
type acmeIssuer struct {
	store *certStore

	mu      sync.Mutex
	clients map[drivers.ACME]*acme.Client // registered accounts
}

func newACMEIssuer(store *certStore) *acmeIssuer {
	return &acmeIssuer{store: store, clients: map[drivers.ACME]*acme.Client{}}
}

// obtain orders a certificate for one host: it answers the CA's HTTP-01
// challenge (relayed by the other proxies of the app, so the CA may ask
// any of them), or TLS-ALPN-01 when the CA offers only that.
func (ai *acmeIssuer) obtain(ctx context.Context, cfg drivers.ACME, host string) (*tls.Certificate, error) {
	cl, err := ai.client(ctx, cfg)
	if err != nil {
		return nil, err
	}
	order, err := cl.AuthorizeOrder(ctx, acme.DomainIDs(host))
	if err != nil {
		return nil, fmt.Errorf("ordering: %w", err)
	}
	for _, u := range order.AuthzURLs {
		if err := ai.authorize(ctx, cl, u, host); err != nil {
			return nil, err
		}
	}
	order, err = cl.WaitOrder(ctx, order.URI)
	if err != nil {
		return nil, fmt.Errorf("waiting for the order: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{host}}, key)
	if err != nil {
		return nil, err
	}
	chain, _, err := cl.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, fmt.Errorf("finalizing: %w", err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("the CA's certificate does not parse: %w", err)
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return nil, fmt.Errorf("the CA's certificate is not for %s: %w", host, err)
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// authorize proves control of host for one authorization of an order.
func (ai *acmeIssuer) authorize(ctx context.Context, cl *acme.Client, url, host string) error {
	z, err := cl.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("reading the authorization: %w", err)
	}
	if z.Status == acme.StatusValid {
		return nil
	}
	chal := pickChallenge(z.Challenges)
	if chal == nil {
		return fmt.Errorf("the CA offers no challenge luma-proxy answers (http-01, tls-alpn-01) for %s", host)
	}
	switch chal.Type {
	case "http-01":
		ka, err := cl.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		ai.store.putToken(chal.Token, ka)
		defer ai.store.dropToken(chal.Token)
	case "tls-alpn-01":
		c, err := cl.TLSALPN01ChallengeCert(chal.Token, host)
		if err != nil {
			return err
		}
		ai.store.putALPN(host, &c)
		defer ai.store.dropALPN(host)
	}
	if _, err := cl.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accepting the %s challenge: %w", chal.Type, err)
	}
	if _, err := cl.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("%s challenge for %s: %w", chal.Type, host, err)
	}
	return nil
}

// challengeOrder is the preference (tests turn it around).
var challengeOrder = []string{"http-01", "tls-alpn-01"}

// pickChallenge prefers HTTP-01: any proxy of the app can answer it (see
// challenge.go), while TLS-ALPN-01 must reach the one that asked.
func pickChallenge(cs []*acme.Challenge) *acme.Challenge {
	for _, typ := range challengeOrder {
		for _, c := range cs {
			if c.Type == typ {
				return c
			}
		}
	}
	return nil
}

// client returns a registered account on cfg's directory, creating the
// account key on first use.
func (ai *acmeIssuer) client(ctx context.Context, cfg drivers.ACME) (*acme.Client, error) {
	ai.mu.Lock()
	defer ai.mu.Unlock()
	if cl := ai.clients[cfg]; cl != nil {
		return cl, nil
	}
	hc, err := acmeHTTPClient(cfg.CACertificate)
	if err != nil {
		return nil, err
	}
	key, err := ai.accountKey(cfg)
	if err != nil {
		return nil, err
	}
	cl := &acme.Client{Key: key, DirectoryURL: cfg.Directory, HTTPClient: hc, UserAgent: "luma-proxy/" + Version}
	acct := &acme.Account{}
	if cfg.Email != "" {
		acct.Contact = []string{"mailto:" + cfg.Email}
	}
	if _, err := cl.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, fmt.Errorf("registering an account with %s: %w", cfg.Directory, err)
	}
	ai.clients[cfg] = cl
	return cl, nil
}

// accountKey reads or creates the account key of cfg's directory and email.
func (ai *acmeIssuer) accountKey(cfg drivers.ACME) (*ecdsa.PrivateKey, error) {
	name := "account.key"
	if cfg.Email != "" {
		name = "account-" + cfg.Email + ".key"
	}
	path := filepath.Join(ai.store.directoryDir(cfg.Directory), name)
	if data, err := os.ReadFile(path); err == nil {
		if b, _ := pem.Decode(data); b != nil {
			if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
				return k, nil
			}
		}
		return nil, fmt.Errorf("account key %s is unreadable: remove it to register a new account", path)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("saving the account key: %w", err)
	}
	return k, nil
}

// acmeHTTPClient trusts the system's roots (or the bundled ones) and caPEM.
func acmeHTTPClient(caPEM string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caPEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(tlscert.Unescape(caPEM))) {
			return nil, errors.New("the ACME CA certificate holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}
