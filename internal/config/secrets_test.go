package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeSecrets(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadSecrets(t *testing.T) {
	path := writeSecrets(t, `# database
DB_PASSWORD=s3cr3t=with=equals

export API_KEY = "quoted value"
  TOKEN='single'
EMPTY=
CRLF=x`+"\r\n")
	got, err := LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DB_PASSWORD": "s3cr3t=with=equals", "API_KEY": "quoted value", "TOKEN": "single", "EMPTY": "", "CRLF": "x",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A malformed line may be a pasted value: errors give file and line only.
func TestLoadSecretsErrorsHideValues(t *testing.T) {
	for _, tt := range []struct {
		name, content, want string
	}{
		{"no equals", "OK=1\nhunter2-value\n", ":2: expected KEY=VALUE"},
		{"bad name", "9hunter2=value-xyz\n", ":1: invalid name before ="},
		{"set twice", "A=hunter2\nA=other-value\n", ":2: A is set again (first on line 1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSecrets(t, tt.content)
			_, err := LoadSecrets(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), path+tt.want) {
				t.Errorf("error %q, want prefix %q", err, path+tt.want)
			}
			for _, secret := range []string{"hunter2", "value", "xyz", "other"} {
				if strings.Contains(strings.TrimPrefix(err.Error(), path), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestLoadSecretsMissingFile(t *testing.T) {
	_, err := LoadSecrets(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want not-exist", err)
	}
}

func TestEnv(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, filepath.Join(dir, "luma.yml"), `name: shop
apps:
  blog:
    image: b
    servers: [s]
    environment:
      plain: ["PORT=3000"]
      secret: [DB_PASSWORD, API_KEY]
`)
	env := c.Apps[0].Environment
	secrets := map[string]string{"DB_PASSWORD": "hunter2", "API_KEY": "k3y", "UNUSED": "x"}
	got, err := c.Env(env, secrets)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PORT=3000", "DB_PASSWORD=hunter2", "API_KEY=k3y"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Env = %v, want %v", got, want)
	}

	_, err = c.Env(env, map[string]string{"DB_PASSWORD": "hunter2"})
	want := "secret API_KEY is not set in " + filepath.Join(dir, ".luma", "secrets") + ": add a line API_KEY=..."
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks a value: %v", err)
	}

	// No secrets file at all: every missing name is listed, in one error.
	_, err = c.Env(env, nil)
	if err == nil || !strings.Contains(err.Error(), "secrets API_KEY, DB_PASSWORD are not set in ") {
		t.Errorf("err = %v", err)
	}

	// Without secret names, no secrets file is needed.
	if got, err := c.Env(Environment{Plain: []string{"A=1"}}, nil); err != nil || !reflect.DeepEqual(got, []string{"A=1"}) {
		t.Errorf("Env(plain only) = %v, %v", got, err)
	}
}

// A missing secrets file is not a Load error: only Env needs it.
func TestLoadWithoutSecretsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "luma.yml")
	os.WriteFile(path, []byte("name: shop\napps:\n  blog:\n    image: b\n    servers: [s]\n    environment: {secret: [X]}\n"), 0o644)
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

// registry.password names a secret: its value comes from .luma/secrets,
// and a missing one is named with the file, never a value.
func TestRegistry(t *testing.T) {
	c := mustParse(t, "luma.yml", "name: shop\nregistry:\n  server: ghcr.io/acme\n  username: deploy\n  password: REGISTRY_PASSWORD\napps:\n  web:\n    image: ghcr.io/acme/web:1\n    servers: [localhost]\n")
	r := c.Registry
	if r == nil || r.Server != "ghcr.io/acme" || r.Username != "deploy" || r.Password != "REGISTRY_PASSWORD" {
		t.Fatalf("registry = %+v", r)
	}
	if got := r.Host(); got != "ghcr.io" {
		t.Errorf("Host = %q", got)
	}
	if got := r.BuildRef("shop", "web", "20250101"); got != "ghcr.io/acme/shop-web:20250101" {
		t.Errorf("BuildRef = %q", got)
	}
	if v, err := c.RegistryPassword(map[string]string{"REGISTRY_PASSWORD": "s3cret"}); v != "s3cret" || err != nil {
		t.Errorf("RegistryPassword = %q, %v", v, err)
	}
	_, err := c.RegistryPassword(map[string]string{"OTHER": "s3cret"})
	if err == nil || !strings.Contains(err.Error(), "REGISTRY_PASSWORD is not set in") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("missing secret: %v", err)
	}
	for _, server := range []string{"127.0.0.1:5000", "registry.example.com:5000/team", "localhost:5000", "docker.io/acme"} {
		if msg := checkRegistryServer(server); msg != "" {
			t.Errorf("server %q refused: %s", server, msg)
		}
	}
	if c := mustParse(t, "luma.yml", "name: shop\napps:\n  web:\n    image: x\n    servers: [localhost]\n"); c.Registry != nil {
		t.Errorf("no registry key: Registry = %+v", c.Registry)
	}
}

// TestMultiLineSecret: a PEM pasted across lines inside double quotes is
// one value; an unclosed quote is an error naming its line, not a value.
func TestMultiLineSecret(t *testing.T) {
	got, err := LoadSecrets(writeSecrets(t, "A=1\nCERT=\"-----BEGIN X-----\n  abc\n-----END X-----\"\nB=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "-----BEGIN X-----\nabc\n-----END X-----"; got["CERT"] != want || got["B"] != "2" {
		t.Errorf("got %q, want CERT %q and B 2", got, want)
	}
	path := writeSecrets(t, "A=1\nCERT=\"-----BEGIN X-----\nabc\n")
	if _, err := LoadSecrets(path); err == nil || err.Error() != path+":2: the quote opened for CERT is never closed" {
		t.Errorf("unclosed quote: %v", err)
	}
}

// TestOwnCertificateChecked: an app's own certificate is checked against
// its hosts before any server is touched; messages name the key and the
// secrets, never a value.
func TestOwnCertificateChecked(t *testing.T) {
	certPEM, keyPEM := selfSignedPEM(t, "blog.com", time.Now().Add(time.Hour))
	_, otherKey := selfSignedPEM(t, "blog.com", time.Now().Add(time.Hour))
	c := &Config{File: "luma.yml", Dir: "/p"}
	a := &App{Name: "blog", Proxy: &AppProxy{Hosts: []string{"blog.com", "www.blog.com"}, SSL: true,
		Certificate: &Certificate{Certificate: "BLOG_CERT", PrivateKey: "BLOG_KEY"}}}
	for _, tt := range []struct {
		name    string
		secrets map[string]string
		want    string
	}{
		{"missing", map[string]string{"BLOG_CERT": certPEM}, "luma.yml: apps.blog.proxy.ssl: secret BLOG_KEY is not set in /p/.luma/secrets"},
		{"uncovered host", map[string]string{"BLOG_CERT": certPEM, "BLOG_KEY": keyPEM}, "the certificate in secrets BLOG_CERT and BLOG_KEY: the certificate does not cover www.blog.com (it covers blog.com)"},
		{"other key", map[string]string{"BLOG_CERT": certPEM, "BLOG_KEY": otherKey}, "the private key does not belong to the certificate"},
	} {
		_, _, err := c.Certificate(a, tt.secrets, time.Now())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		} else if strings.Contains(err.Error(), "BEGIN CERTIFICATE") || strings.Contains(err.Error(), "PRIVATE KEY-") {
			t.Errorf("%s: the error shows a value", tt.name)
		}
	}
	a.Proxy.Hosts = []string{"blog.com"}
	escaped := strings.ReplaceAll(certPEM, "\n", `\n`) // one line in the secrets file
	if _, _, err := c.Certificate(a, map[string]string{"BLOG_CERT": escaped, "BLOG_KEY": keyPEM}, time.Now()); err != nil {
		t.Errorf("good certificate: %v", err)
	}
	if _, _, err := c.Certificate(a, map[string]string{"BLOG_CERT": certPEM, "BLOG_KEY": keyPEM}, time.Now().Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
}

func selfSignedPEM(t *testing.T, host string, notAfter time.Time) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}
