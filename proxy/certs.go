package proxy

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
	"os"
	"path/filepath"
	"strings"
	"time"
)

// parseCertificate reads a PEM chain and its private key (PKCS#8, PKCS#1
// or SEC 1) into a tls.Certificate whose Leaf is set. Literal "\n" in the
// PEM is read as a newline: secrets files hold one line per value.
func parseCertificate(certPEM, keyPEM string) (*tls.Certificate, error) {
	certPEM, keyPEM = unescapePEM(certPEM), unescapePEM(keyPEM)
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

func unescapePEM(s string) string {
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

// CheckCertificate tells whether a certificate and key can serve hosts at
// now: the key matches, every host is covered and it has not expired. The
// CLI runs it before a deploy touches traffic; the proxy again on receipt.
func CheckCertificate(certPEM, keyPEM string, hosts []string, now time.Time) error {
	c, err := parseCertificate(certPEM, keyPEM)
	if err != nil {
		return err
	}
	return checkLeaf(c.Leaf, hosts, now)
}

func checkLeaf(leaf *x509.Certificate, hosts []string, now time.Time) error {
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

// encodeCertificate is the PEM file form of c: the private key, then the
// chain.
func encodeCertificate(c *tls.Certificate) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, b := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	}
	return out, nil
}

// readCertificateFile reads a file written by writeCertificateFile.
func readCertificateFile(path string) (*tls.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCertificate(string(data), string(data))
}

// writeCertificateFile saves c readable only by the proxy, atomically.
func writeCertificateFile(path string, c *tls.Certificate) error {
	data, err := encodeCertificate(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic replaces path with data (mode 0600) so a crash leaves
// the old file or the new one, never half of either.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// issuerName is how status shows who issued a certificate.
func issuerName(leaf *x509.Certificate) string {
	if leaf.Issuer.CommonName != "" {
		return leaf.Issuer.CommonName
	}
	return leaf.Issuer.String()
}
