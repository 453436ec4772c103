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

func mustParse(t *testing.T, file, in string) *Config {
	t.Helper()
	c, err := Parse(file, []byte(in))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	c := mustParse(t, "luma.yml", `name: shop
apps:
  blog:
    image: my-blog
    servers: [server1]
services:
  db:
    image: postgres
    servers: [server1]
`)
	wantSSH := SSH{User: "root", Port: 22, KnownHosts: filepath.Join(home, ".ssh", "known_hosts")}
	if c.SSH != wantSSH {
		t.Errorf("SSH = %+v, want %+v", c.SSH, wantSSH)
	}
	if want := (Proxy{HTTPPort: 80, HTTPSPort: 443, ACME: ACME{Directory: LetsEncrypt}}); c.Proxy != want {
		t.Errorf("Proxy = %+v, want %+v", c.Proxy, want)
	}
	want := App{
		Name: "blog", Image: "my-blog", Servers: []string{"server1"}, Replicas: 1,
		HealthCheck:  HealthCheck{Path: "/up", StartPeriod: 10 * time.Second, Interval: time.Second, Timeout: 5 * time.Second, Retries: 3},
		DrainTimeout: 30 * time.Second, StopTimeout: 30 * time.Second, KeepReleases: 5,
	}
	if c.KeepReleases != 5 {
		t.Errorf("KeepReleases = %d, want 5", c.KeepReleases)
	}
	if !reflect.DeepEqual(c.Apps, []App{want}) {
		t.Errorf("Apps = %+v\nwant %+v", c.Apps, []App{want})
	}
	if want := []Service{{Name: "db", Image: "postgres", Servers: []string{"server1"}}}; !reflect.DeepEqual(c.Services, want) {
		t.Errorf("Services = %+v, want %+v", c.Services, want)
	}
}

// TestEveryKey sets every key to a non-default value and checks it lands.
func TestEveryKey(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "luma.yml")
	ca := testCAPEM(t)
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(ca), 0o644)
	c := mustParse(t, file, `name: shop
ssh:
  user: deploy
  port: 2222
  key: ~/.ssh/deploy_key
  known_hosts: /etc/luma/known_hosts
  trust_on_first_use: true
proxy:
  http_port: 8080
  https_port: 8443
  image: luma-proxy:arm64
  acme:
    email: ops@shop.com
    directory: staging
    ca_certificate: ca.pem
keep_releases: 7
apps:
  web:
    image: ghcr.io/acme/web:1.4
    build:
      context: ./web
      dockerfile: deploy/Dockerfile
      args: {VERSION: 1.2, DEBUG: "false"}
      target: prod
      platform: linux/arm64
    servers: ["deploy@203.0.113.10:2222", "[2001:db8::1]:22", "[::1]", "web1.example.com", "localhost"]
    replicas: 3
    environment:
      plain: ["PORT=3000", "MODE=a=b"]
      secret: [DB_PASSWORD]
    proxy:
      hosts: [shop.com, "*.shop.com"]
      app_port: 3000
      ssl: {certificate: SHOP_CERT, private_key: SHOP_KEY}
      ssl_redirect: false
      hsts: true
      max_body_size: 100MiB
      upstream_idle_timeout: 1500ms
    health_check:
      path: /healthz
      start_period: "1m"
      interval: 500ms
      timeout: "2s"
      retries: 5
    volumes: ["data:/var/lib/data", "/srv/x:/x:ro"]
    command: /app --serve   --port 3000
    drain_timeout: 0s
    stop_timeout: 1m30s
    keep_releases: 3
services:
  db:
    image: postgres:16
    servers: [web1.example.com, db1]
    ports: ["127.0.0.1:5432:5432", "53:53/udp", "[::1]:6379:6379/tcp"]
    volumes: ["pg:/var/lib/postgresql/data"]
    environment:
      plain: [POSTGRES_USER=app]
      secret: [POSTGRES_PASSWORD]
    command: ["postgres", "-c", "max_connections=200"]
`)
	want := &Config{
		File: file, Dir: dir, Name: "shop",
		SSH: SSH{User: "deploy", Port: 2222, Key: filepath.Join(home, ".ssh/deploy_key"), KnownHosts: "/etc/luma/known_hosts", TrustOnFirstUse: true},
		Proxy: Proxy{HTTPPort: 8080, HTTPSPort: 8443, Image: "luma-proxy:arm64",
			ACME: ACME{Email: "ops@shop.com", Directory: LetsEncryptStaging, CACertificate: ca, CAFile: filepath.Join(dir, "ca.pem")}},
		Apps: []App{{
			Name: "web", Image: "ghcr.io/acme/web:1.4",
			Build: &Build{Context: filepath.Join(dir, "web"), Dockerfile: "deploy/Dockerfile",
				Args: map[string]string{"VERSION": "1.2", "DEBUG": "false"}, Target: "prod", Platform: "linux/arm64"},
			Servers:     []string{"deploy@203.0.113.10:2222", "[2001:db8::1]:22", "[::1]", "web1.example.com", "localhost"},
			Replicas:    3,
			Environment: Environment{Plain: []string{"PORT=3000", "MODE=a=b"}, Secret: []string{"DB_PASSWORD"}},
			Proxy: &AppProxy{Hosts: []string{"shop.com", "*.shop.com"}, AppPort: 3000, SSL: true,
				Certificate: &Certificate{Certificate: "SHOP_CERT", PrivateKey: "SHOP_KEY"}, SSLRedirect: false, HSTS: true, MaxBodySize: 100 << 20, UpstreamIdleTimeout: 1500 * time.Millisecond},
			HealthCheck: HealthCheck{Path: "/healthz", StartPeriod: time.Minute, Interval: 500 * time.Millisecond, Timeout: 2 * time.Second, Retries: 5},
			Volumes:     []string{"data:/var/lib/data", "/srv/x:/x:ro"},
			Command:     []string{"/app", "--serve", "--port", "3000"},
			StopTimeout: 90 * time.Second, KeepReleases: 3,
		}},
		Services: []Service{{
			Name: "db", Image: "postgres:16", Servers: []string{"web1.example.com", "db1"},
			Ports:       []string{"127.0.0.1:5432:5432", "53:53/udp", "[::1]:6379:6379/tcp"},
			Volumes:     []string{"pg:/var/lib/postgresql/data"},
			Environment: Environment{Plain: []string{"POSTGRES_USER=app"}, Secret: []string{"POSTGRES_PASSWORD"}},
			Command:     []string{"postgres", "-c", "max_connections=200"},
		}},
		KeepReleases: 7,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
		if !reflect.DeepEqual(c.Apps, want.Apps) {
			t.Errorf("apps: got %+v\nwant %+v", c.Apps[0], want.Apps[0])
		}
	}
	if got := c.Servers(); !reflect.DeepEqual(got, []string{"deploy@203.0.113.10:2222", "[2001:db8::1]:22", "[::1]", "web1.example.com", "localhost", "db1"}) {
		t.Errorf("Servers() = %v", got)
	}
	if a, ok := c.App("web"); !ok || a != &c.Apps[0] {
		t.Errorf("App(web) = %v, %v", a, ok)
	}
	if _, ok := c.App("nope"); ok {
		t.Error("App(nope) found")
	}
	if got, want := c.SecretsPath(), filepath.Join(dir, ".luma", "secrets"); got != want {
		t.Errorf("SecretsPath() = %q, want %q", got, want)
	}
}

// The spec's examples lack name (and the health check one, servers), which
// luma.yml requires; with those added they must parse as written.
func TestSpecExamples(t *testing.T) {
	examples := map[string]string{
		"basic": `apps:
  blog:
    image: "my-blog"
    servers: ["server1"]
    proxy:
      hosts: ["blog.com"]
      app_port: 3000
`,
		"replicas": `apps:
  api:
    image: "my-api"
    replicas: 3
    servers: ["server1", "server2"]
    proxy:
      hosts: ["api.com"]
      app_port: 8080
`,
		"health check": `apps:
  web:
    image: "my-web"
    servers: ["server1"]
    health_check:
      start_period: "10s" # Wait time before health checks
      interval: "30s" # Check interval
      timeout: "5s" # Per-check timeout
      retries: 3 # Retry count
`,
	}
	for name, body := range examples {
		t.Run(name, func(t *testing.T) {
			c := mustParse(t, "luma.yml", "name: myproject\n"+body)
			if len(c.Apps) != 1 || c.Apps[0].HealthCheck.Path != "/up" {
				t.Errorf("apps = %+v", c.Apps)
			}
		})
	}
	c := mustParse(t, "luma.yml", "name: myproject\n"+examples["health check"])
	if h := c.Apps[0].HealthCheck; h.Interval != 30*time.Second || h.StartPeriod != 10*time.Second || h.Timeout != 5*time.Second || h.Retries != 3 {
		t.Errorf("health check = %+v", h)
	}
	c = mustParse(t, "luma.yml", "name: myproject\n"+examples["replicas"])
	if a := c.Apps[0]; a.Replicas != 3 || a.Proxy.AppPort != 8080 || !reflect.DeepEqual(a.Servers, []string{"server1", "server2"}) {
		t.Errorf("api = %+v", a)
	}
}

func TestAppsInFileOrder(t *testing.T) {
	c := mustParse(t, "luma.yml", `name: shop
apps:
  zeta: {image: z, servers: [b]}
  alpha: {image: a, servers: [a, b]}
  mid: {image: m, servers: [c]}
services:
  redis: {image: redis, servers: [d]}
  cache: {image: memcached, servers: [a]}
`)
	var names []string
	for _, a := range c.Apps {
		names = append(names, a.Name)
	}
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	if want := []string{"zeta", "alpha", "mid", "redis", "cache"}; !reflect.DeepEqual(names, want) {
		t.Errorf("order = %v, want %v", names, want)
	}
	if got, want := c.Servers(), []string{"b", "a", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Servers() = %v, want %v", got, want)
	}
}

// Anchors and merge keys are plain YAML; people use them to share settings.
func TestAnchorsAndMerge(t *testing.T) {
	c := mustParse(t, "luma.yml", `name: shop
apps:
  blog: &app
    image: my-blog
    servers: &servers [server1, server2]
    replicas: 2
  api:
    <<: *app
    image: my-api
services:
  db:
    image: postgres
    servers: *servers
`)
	api, _ := c.App("api")
	if api.Image != "my-api" || api.Replicas != 2 || !reflect.DeepEqual(api.Servers, []string{"server1", "server2"}) {
		t.Errorf("api = %+v", api)
	}
	if !reflect.DeepEqual(c.Services[0].Servers, []string{"server1", "server2"}) {
		t.Errorf("db servers = %v", c.Services[0].Servers)
	}
}

func TestEmptySectionsMeanDefaults(t *testing.T) {
	c := mustParse(t, "luma.yml", `name: shop
ssh:
proxy:
apps:
  blog:
    image: my-blog
    servers: [s]
    proxy:
    health_check:
    environment:
    command:
`)
	a := c.Apps[0]
	if a.Proxy != nil || a.Command != nil || a.HealthCheck.Path != "/up" || c.SSH.Port != 22 {
		t.Errorf("app = %+v, ssh = %+v", a, c.SSH)
	}
}

func TestBuildDefaults(t *testing.T) {
	dir := t.TempDir()
	c := mustParse(t, filepath.Join(dir, "luma.yml"), "name: shop\napps:\n  web:\n    build: {}\n    servers: [s]\n")
	if b := c.Apps[0].Build; b == nil || b.Context != dir || b.Dockerfile != "Dockerfile" || c.Apps[0].Image != "" {
		t.Errorf("build = %+v", b)
	}
	c = mustParse(t, filepath.Join(dir, "luma.yml"), "name: shop\napps:\n  web:\n    build: {context: /abs/src}\n    servers: [s]\n")
	if b := c.Apps[0].Build; b.Context != "/abs/src" {
		t.Errorf("absolute context = %q", b.Context)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "luma.yml")
	if err := os.WriteFile(path, []byte("name: shop\napps:\n  blog: {image: b, servers: [s]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.File != path || c.Dir != dir || c.Name != "shop" {
		t.Errorf("config = %+v", c)
	}

	if err := os.WriteFile(path, []byte("name: shop\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	var errs *Errors
	if !errors.As(err, &errs) || (*errs)[0].File != path {
		t.Errorf("Load(invalid) = %v", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yml"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "luma init") {
		t.Errorf("Load(missing) = %v", err)
	}
}

// Relative paths keep working after the process changes directory.
func TestDirIsAbsolute(t *testing.T) {
	c := mustParse(t, "luma.yml", "name: shop\napps:\n  blog: {image: b, servers: [s]}\n")
	if !filepath.IsAbs(c.Dir) || c.File != "luma.yml" {
		t.Errorf("Dir = %q, File = %q", c.Dir, c.File)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "512": 512, "1k": 1 << 10, "64KiB": 64 << 10, "8 KB": 8000, "100MiB": 100 << 20,
		"1.5g": 3 << 29, "2GB": 2e9, "10mb": 10e6,
	} {
		if got, ok := parseSize(in); !ok || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "ten", "1 TiB", "1e3"} {
		if got, ok := parseSize(bad); ok {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

// testCAPEM is a self-signed CA certificate, PEM.
func testCAPEM(t *testing.T) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
