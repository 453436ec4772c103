// Package tlscert reads and checks TLS certificates given as PEM: the CLI
// checks an app's own certificate before a deploy touches traffic, and
// luma-proxy again when it receives one.
package tlscert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Parse reads a PEM chain and its private key (PKCS#8, PKCS#1
// or SEC 1) into a tls.Certificate whose Leaf is set. Literal "\n" in the
// PEM is read as a newline: secrets files hold one line per value.
func Parse(certPEM, keyPEM string) (*tls.Certificate, error) {
	certPEM, keyPEM = Unescape(certPEM), Unescape(keyPEM)
	var c tls.Certificate
	rest := []byte(certPEM)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, b.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return nil, errors.New("the certificate holds no PEM CERTIFICATE block")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("the certificate does not parse: %w", err)
	}
	c.Leaf = leaf
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil {
		return nil, errors.New("the private key holds no PEM block")
	}
	key, err := parsePrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	if !publicKeyMatches(leaf.PublicKey, key) {
		return nil, errors.New("the private key does not belong to the certificate")
	}
	c.PrivateKey = key
	return &c, nil
}

// Unescape turns the literal \n of a one-line PEM (a secrets file
// holds one line per value) into newlines.
func Unescape(s string) string {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	return s
}

func parsePrivateKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("the private key is not a PKCS#8, PKCS#1 or EC key")
}

func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return p.Equal(key.Public())
	case *ecdsa.PublicKey:
		return p.Equal(key.Public())
	case ed25519.PublicKey:
		return p.Equal(key.Public())
	}
	return false
}

// Check tells whether a certificate and key can serve hosts at
// now: the key matches, every host is covered and it has not expired. The
// CLI runs it before a deploy touches traffic; the proxy again on receipt.
func Check(certPEM, keyPEM string, hosts []string, now time.Time) error {
	c, err := Parse(certPEM, keyPEM)
	if err != nil {
		return err
	}
	return CheckLeaf(c.Leaf, hosts, now)
}

// CheckLeaf tells whether leaf serves hosts at now.
func CheckLeaf(leaf *x509.Certificate, hosts []string, now time.Time) error {
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("the certificate expired on %s", leaf.NotAfter.UTC().Format(time.DateOnly))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	var missing []string
	for _, h := range hosts {
		if leaf.VerifyHostname(strings.ReplaceAll(h, "*", "wildcard-check")) != nil && leaf.VerifyHostname(h) != nil {
			missing = append(missing, h)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the certificate does not cover %s (it covers %s)", strings.Join(missing, ", "), strings.Join(leaf.DNSNames, ", "))
	}
	return nil
}
