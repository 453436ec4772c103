package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// acmeALPN is the protocol of TLS-ALPN-01 handshakes (RFC 8737).
const acmeALPN = "acme-tls/1"

// hstsValue is sent when a route opts in: a year, as browsers' preload
// lists expect.
const hstsValue = "max-age=31536000"

// tlsConfig serves each host its certificate by SNI, TLS 1.2 and up, HTTP/2
// and HTTP/1.1 (WebSockets use HTTP/1.1: the server does not offer RFC 8441
// extended CONNECT, so browsers open an HTTP/1.1 connection for them).
func (s *server) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1", acmeALPN},
		GetCertificate: s.getCertificate,
	}
}

// getCertificate picks the certificate of the SNI host. A host whose first
// certificate is on its way waits for it (up to 30 s, as a client would for
// a slow server); a host with none gets a self-signed one, so the client
// can be shown why (httpsHandler) instead of a bare handshake failure.
func (s *server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if slices.Contains(hello.SupportedProtos, acmeALPN) {
		if c := s.certs.alpnCert(host); c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("no TLS-ALPN-01 challenge pending for %q", host)
	}
	c, wait := s.certs.lookup(host)
	if c == nil && wait != nil {
		ctx, cancel := context.WithTimeout(hello.Context(), 30*time.Second)
		defer cancel()
		select {
		case <-wait:
			c, _ = s.certs.lookup(host)
		case <-ctx.Done():
		}
	}
	if c != nil {
		return c, nil
	}
	return s.fallback, nil
}

// httpHandler serves plain HTTP: ACME challenges first, then a redirect to
// HTTPS for hosts that have a certificate, then the app.
func (s *server) httpHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.requests.begin(r, s.draining.Load())()
		s.closeIfDraining(w, r)
		if strings.HasPrefix(r.URL.Path, challengePrefix) {
			s.serveChallenge(w, r)
			return
		}
		host := requestHost(r.Host)
		if t := s.router.tlsOf(host); t != nil && t.Redirect && s.certs.hasCertificate(host) {
			redirectToHTTPS(w, r, host, t.HTTPSPort)
			return
		}
		s.router.ServeHTTP(w, r)
	})
}

// httpsHandler serves HTTPS: the page that says why a host has no
// certificate, HSTS where asked, then the app.
func (s *server) httpsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.requests.begin(r, s.draining.Load())()
		s.closeIfDraining(w, r)
		host := requestHost(r.Host)
		t := s.router.tlsOf(host)
		if t == nil || !s.certs.hasCertificate(host) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Retry-After", "60")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "luma-proxy: no certificate for %s yet: %s\n", host, s.certs.pending(host))
			return
		}
		if t.HSTS {
			w.Header().Set("Strict-Transport-Security", hstsValue)
		}
		s.router.ServeHTTP(w, r)
	})
}

// redirectToHTTPS answers 308, which keeps the method and body.
func redirectToHTTPS(w http.ResponseWriter, r *http.Request, host string, port int) {
	u := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	if strings.Contains(host, ":") { // an IPv6 literal
		u.Host = "[" + host + "]"
	}
	if port != 0 && port != 443 {
		u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	}
	http.Redirect(w, r, u.String(), http.StatusPermanentRedirect)
}

// selfSigned is the certificate of hosts that have none: it lets the
// handshake finish so the client can read why.
func selfSigned() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "luma-proxy: no certificate for this host yet"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// closeIfDraining has a stopping proxy's HTTP/1 responses close their
// connection, so the client's next request opens one to the successor
// (WebSocket upgrades excepted: they must say Upgrade).
func (s *server) closeIfDraining(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() && r.ProtoMajor == 1 && r.Header.Get("Upgrade") == "" {
		w.Header().Set("Connection", "close")
	}
}
