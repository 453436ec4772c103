package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// benchTLS is the benchmark's own CA and the certificate it signs for the
// app's host: the app serves it with ssl: {certificate, private_key}, so
// the load runs over HTTPS with no ACME server in the loop (the handshake
// and the proxying are the same once a certificate is there).
type benchTLS struct {
	pool            *x509.CertPool
	certPEM, keyPEM string
}

func newBenchTLS(host string) (*benchTLS, error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "luma zdt CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &benchTLS{
		pool:    pool,
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})),
	}, nil
}

// writeSecrets puts the certificate and key in the project's secrets, one
// line each.
func (b *benchTLS) writeSecrets(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, ".luma"), 0o700); err != nil {
		return err
	}
	line := func(name, pem string) string {
		return fmt.Sprintf("%s=%s\n", name, strings.ReplaceAll(strings.TrimSpace(pem), "\n", `\n`))
	}
	return os.WriteFile(filepath.Join(dir, ".luma", "secrets"), []byte(line("ZDT_CERT", b.certPEM)+line("ZDT_KEY", b.keyPEM)), 0o600)
}

// clientConfig trusts the benchmark's CA and names host by SNI (the load
// dials an address, not the host).
func (b *benchTLS) clientConfig(host string) *tls.Config {
	return &tls.Config{RootCAs: b.pool, ServerName: host}
}
