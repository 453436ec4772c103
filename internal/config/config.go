// Package config loads and validates luma.yml, the one file that says what
// Luma deploys where. It never touches a server: everything a deploy needs
// to know about bad input is reported here, all at once, with file:line:col.
package config

import (
	"path/filepath"
	"strings"
	"time"
)

// FileName is the config file Luma looks for in the working directory.
const FileName = "luma.yml"

// Config is a loaded, validated luma.yml with every default applied.
type Config struct {
	File     string // path as given to Load
	Dir      string // directory of the file; secrets and build contexts resolve against it
	Name     string // project name, a DNS label
	SSH      SSH
	Proxy    Proxy
	Apps     []App     // in file order
	Services []Service // in file order
	// Registry is where servers pull images with credentials, and where
	// builds are pushed; nil when luma.yml has none.
	Registry *Registry
	// KeepReleases is how many releases' images of each app pruning
	// keeps on each server (apps may say otherwise).
	KeepReleases int
}

// Registry is a container registry with credentials.
type Registry struct {
	Server   string // host[:port][/namespace], e.g. ghcr.io/acme
	Username string
	Password string // the NAME of a secret in .luma/secrets, never the value
}

// Host is the registry's host[:port], as image references name it.
func (r *Registry) Host() string {
	host, _, _ := strings.Cut(r.Server, "/")
	return host
}

// BuildRef is where a build of app is pushed: <server>/<project>-<app>:<release>.
func (r *Registry) BuildRef(project, app, release string) string {
	return r.Server + "/" + project + "-" + app + ":" + release
}

// SSH says how to reach servers. Key resolution (agent, default keys) is
// the SSH code's job; here paths only get ~ expanded.
type SSH struct {
	User            string
	Port            int
	Key             string
	KnownHosts      string
	TrustOnFirstUse bool
}

// Proxy configures luma-proxy on every server that runs a proxied app.
type Proxy struct {
	HTTPPort, HTTPSPort int
	Image               string // optional image for luma-proxy, for servers of another platform
	ACME                ACME   // the CA of apps with ssl: true
}

// ACME is the certificate authority luma-proxy obtains certificates from.
type ACME struct {
	Directory string // RFC 8555 directory URL (Let's Encrypt production by default)
	Email     string // account contact, optional
	// CACertificate is the PEM of extra roots to trust for Directory
	// (a private CA), read from CAFile.
	CACertificate string
	CAFile        string
}

// Let's Encrypt's directories; luma.yml may name them "production" and
// "staging".
const (
	LetsEncrypt        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// HasTLS tells whether some app is served over HTTPS, so luma-proxy must
// publish https_port.
func (c *Config) HasTLS() bool {
	for _, a := range c.Apps {
		if a.Proxy != nil && a.Proxy.SSL {
			return true
		}
	}
	return false
}

// App is a proxied, blue-green deployed application.
type App struct {
	Name         string
	Image        string // with Build, names the result (tagged <repository>:<release>, and Image when it has a tag)
	Build        *Build
	Servers      []string // "localhost" means the local Docker engine, no SSH
	Replicas     int
	Environment  Environment
	Proxy        *AppProxy // nil when the app takes no HTTP traffic
	HealthCheck  HealthCheck
	Volumes      []string
	Command      []string
	DrainTimeout time.Duration
	StopTimeout  time.Duration
	// KeepReleases is how many of the app's newest releases keep their
	// images on each server after a deploy (Config.KeepReleases unless
	// set for the app).
	KeepReleases int
}

// Build describes a local image build.
type Build struct {
	Context    string // absolute, resolved against Config.Dir
	Dockerfile string // relative to Context, default "Dockerfile"
	Args       map[string]string
	Target     string
	Platform   string
}

// Environment lists plain KEY=VALUE entries and names of secrets kept in
// .luma/secrets, so secret values never live in luma.yml.
type Environment struct {
	Plain  []string
	Secret []string
}

// AppProxy routes hosts to the app's port through luma-proxy.
type AppProxy struct {
	Hosts   []string
	AppPort int
	// SSL serves the hosts over HTTPS, with a certificate from ACME or,
	// when Certificate is set, the app's own.
	SSL         bool
	Certificate *Certificate
	SSLRedirect bool // plain HTTP answered with 308 to HTTPS (default with SSL)
	HSTS        bool
	// MaxBodySize is the largest request body luma-proxy passes on, in
	// bytes (0: no limit); larger ones get 413.
	MaxBodySize int64
	// UpstreamIdleTimeout is the longest luma-proxy reuses an idle
	// connection to the app (0: its default, learning the app's own
	// keep-alive timeout from how it closes connections).
	UpstreamIdleTimeout time.Duration
}

// Certificate is an app's own certificate: the NAMES of the secrets in
// .luma/secrets holding its PEM chain and private key.
type Certificate struct {
	Certificate string
	PrivateKey  string
}

// HealthCheck decides when a new color may take traffic.
type HealthCheck struct {
	Path        string
	StartPeriod time.Duration
	Interval    time.Duration
	Timeout     time.Duration
	Retries     int
}

// Service is an accessory such as a database: not proxied, not blue-green.
type Service struct {
	Name        string
	Image       string
	Servers     []string
	Ports       []string
	Volumes     []string
	Environment Environment
	Command     []string
}

// App returns the app with the given name.
func (c *Config) App(name string) (*App, bool) {
	for i := range c.Apps {
		if c.Apps[i].Name == name {
			return &c.Apps[i], true
		}
	}
	return nil, false
}

// Servers returns every distinct server of apps and services, in the order
// they first appear, so output follows the file.
func (c *Config) Servers() []string {
	seen := map[string]bool{}
	var out []string
	add := func(servers []string) {
		for _, s := range servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	for _, a := range c.Apps {
		add(a.Servers)
	}
	for _, s := range c.Services {
		add(s.Servers)
	}
	return out
}

// SecretsPath is where secret values live: next to luma.yml, outside it,
// so that luma.yml can be committed.
func (c *Config) SecretsPath() string {
	return filepath.Join(c.Dir, ".luma", "secrets")
}
