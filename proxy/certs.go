package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"

	"github.com/luma-deploy/luma/internal/tlscert"
)

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
	return tlscert.Parse(string(data), string(data))
}

// writeCertificateFile saves c readable only by the proxy, atomically.
func writeCertificateFile(path string, c *tls.Certificate) error {
	data, err := encodeCertificate(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// issuerName is how status shows who issued a certificate.
func issuerName(leaf *x509.Certificate) string {
	if leaf.Issuer.CommonName != "" {
		return leaf.Issuer.CommonName
	}
	return leaf.Issuer.String()
}
