package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTPSClient sends every request to the proxy at addr (host:port) over
// TLS, with the URL's host as SNI and Host, verifying the chain against
// roots; redirects are returned, not followed.
func HTTPSClient(addr string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ServedCertificate is the leaf certificate the server at addr presents
// for SNI host, unverified, so a placeholder shows as what it is.
func ServedCertificate(addr, host string) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	if err != nil {
		return nil, fmt.Errorf("TLS handshake with %s for %s: %w", addr, host, err)
	}
	defer c.Close()
	certs := c.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, fmt.Errorf("TLS handshake with %s for %s: no certificate", addr, host)
	}
	return certs[0], nil
}

// VerifyServed checks that the certificate addr serves for host chains
// to roots (with the intermediates the server sends) and names host.
func VerifyServed(addr, host string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		return nil, fmt.Errorf("verified TLS handshake with %s for %s: %w", addr, host, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}
