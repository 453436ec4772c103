package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults, shown as-is in the template written by Init.
const (
	defaultUser         = "root"
	defaultSSHPort      = 22
	defaultKnownHosts   = "~/.ssh/known_hosts"
	defaultHTTPPort     = 80
	defaultHTTPSPort    = 443
	defaultReplicas     = 1
	defaultHealthPath   = "/up"
	defaultStartPeriod  = 10 * time.Second
	defaultInterval     = 1 * time.Second
	defaultTimeout      = 5 * time.Second
	defaultRetries      = 3
	defaultDrainTimeout = 30 * time.Second
	defaultStopTimeout  = 30 * time.Second
	defaultDockerfile   = "Dockerfile"
	// defaultMaxBodySize is generous: uploads of videos and backups
	// pass; a runaway client does not fill the app's disk.
	defaultMaxBodySize = 1 << 30
	// defaultKeepReleases keeps a few releases' images on each server so
	// a rollback needs no transfer, without filling the disk.
	defaultKeepReleases = 5
)

var (
	topKeys      = []string{"name", "ssh", "proxy", "registry", "keep_releases", "apps", "services"}
	registryKeys = []string{"server", "username", "password"}
	sshKeys      = []string{"user", "port", "key", "known_hosts", "trust_on_first_use"}
	proxyKeys    = []string{"http_port", "https_port", "image", "acme"}
	acmeKeys     = []string{"email", "directory", "ca_certificate"}
	sslKeys      = []string{"certificate", "private_key"}
	appKeys      = []string{"image", "build", "servers", "replicas", "environment", "proxy", "health_check", "volumes", "command", "drain_timeout", "stop_timeout", "keep_releases"}
	buildKeys    = []string{"context", "dockerfile", "args", "target", "platform"}
	envKeys      = []string{"plain", "secret"}
	appProxyKeys = []string{"hosts", "app_port", "ssl", "ssl_redirect", "hsts", "max_body_size", "upstream_idle_timeout"}
	healthKeys   = []string{"path", "start_period", "interval", "timeout", "retries"}
	serviceKeys  = []string{"image", "servers", "ports", "volumes", "environment", "command"}
)

var (
	topSection      = &section{keys: topKeys, hint: topHint}
	registrySection = &section{keys: registryKeys}
	sshSection      = &section{keys: sshKeys}
	proxySection    = &section{keys: proxyKeys}
	acmeSection     = &section{keys: acmeKeys}
	sslSection      = &section{keys: sslKeys}
	appSection      = &section{keys: appKeys, hint: appHint}
	buildSection    = &section{keys: buildKeys}
	envSection      = &section{keys: envKeys}
	appProxySection = &section{keys: appProxyKeys}
	healthSection   = &section{keys: healthKeys}
	serviceSection  = &section{keys: serviceKeys, hint: serviceHint}
)

// aliases are words users bring from other tools (compose, kamal).
var aliases = map[string]string{
	"env": "environment", "cmd": "command", "host": "proxy.hosts", "domain": "proxy.hosts",
	"domains": "proxy.hosts", "port": "proxy.app_port", "ports": "proxy.app_port",
	"healthcheck": "health_check", "dockerfile": "build.dockerfile",
}

// appHint places keys that belong one level down (hosts → proxy.hosts).
func appHint(key string) string {
	nested := []struct {
		prefix string
		keys   []string
	}{{"proxy", appProxyKeys}, {"health_check", healthKeys}, {"environment", envKeys}, {"build", buildKeys}}
	for _, n := range nested {
		if contains(n.keys, key) {
			return fmt.Sprintf("did you mean %q?", n.prefix+"."+key)
		}
	}
	if a, ok := aliases[strings.ToLower(key)]; ok {
		return fmt.Sprintf("did you mean %q?", a)
	}
	if suggest(key, appKeys) != "" {
		return "" // a plain typo: let the generic suggestion speak
	}
	for _, n := range nested {
		if s := suggest(key, n.keys); s != "" {
			return fmt.Sprintf("did you mean %q?", n.prefix+"."+s)
		}
	}
	return ""
}

func serviceHint(key string) string {
	if contains(appKeys, key) {
		return fmt.Sprintf("only apps take %s; services take %s", key, strings.Join(serviceKeys, ", "))
	}
	if a, ok := aliases[strings.ToLower(key)]; ok && contains(serviceKeys, a) {
		return fmt.Sprintf("did you mean %q?", a)
	}
	return ""
}

// topHint catches app or SSH settings written at the top level.
func topHint(key string) string {
	switch {
	case suggest(key, topKeys) != "":
		return ""
	case contains(appKeys, key):
		return fmt.Sprintf("app settings go under apps.<name>, e.g. apps.web.%s", key)
	case contains(sshKeys, key):
		return fmt.Sprintf("did you mean %q?", "ssh."+key)
	}
	return ""
}

// config decodes the root mapping, applying defaults.
func (d *decoder) config(root *yaml.Node) *Config {
	c := &Config{
		SSH:   SSH{User: defaultUser, Port: defaultSSHPort, KnownHosts: expandHome(defaultKnownHosts)},
		Proxy: Proxy{HTTPPort: defaultHTTPPort, HTTPSPort: defaultHTTPSPort, ACME: ACME{Directory: LetsEncrypt}},
	}
	c.KeepReleases = defaultKeepReleases
	top := entry{key: root, val: root}
	m, ok := d.mapping(root, "", topSection)
	if !ok {
		return c
	}
	c.Name = d.required(m, "name", top, checkName, "missing: set the project name, e.g. name: myproject")
	if e, ok := m.present("ssh"); ok {
		d.ssh(e, &c.SSH)
	}
	if e, ok := m.present("proxy"); ok {
		d.proxy(e, &c.Proxy)
	}
	if e, ok := m.present("registry"); ok {
		c.Registry = d.registry(e)
	}
	if e, ok := m.present("keep_releases"); ok {
		c.KeepReleases = d.keepReleases(e, c.KeepReleases)
	}
	d.hosts = map[string]string{}
	apps := map[string]bool{}
	if e, ok := m.present("apps"); ok {
		am, _ := d.mapping(e.val, e.path, nil)
		for _, name := range am.keys {
			ae := am.entries[name]
			d.check(ae.key, ae.path, checkName(name))
			c.Apps = append(c.Apps, d.app(name, ae))
			apps[name] = true
		}
	}
	if e, ok := m.present("services"); ok {
		sm, _ := d.mapping(e.val, e.path, nil)
		for _, name := range sm.keys {
			se := sm.entries[name]
			if apps[name] {
				d.errorf(se.key, se.path, "name already used by an app; apps and services share one network, so names must differ")
			} else {
				d.check(se.key, se.path, checkName(name))
			}
			c.Services = append(c.Services, d.service(name, se))
		}
	}
	for i := range c.Apps {
		if c.Apps[i].KeepReleases == 0 { // not set for the app
			c.Apps[i].KeepReleases = c.KeepReleases
		}
	}
	if len(c.Apps) == 0 && len(c.Services) == 0 {
		d.missing(m, "apps", top, "nothing to deploy: add an app under apps:")
	}
	return c
}

// check reports msg unless it is empty.
func (d *decoder) check(n *yaml.Node, path, msg string) {
	if msg != "" {
		d.errorf(n, path, "%s", msg)
	}
}

// missing reports a required key: at the key when it is written but empty,
// else at the key of the mapping that lacks it.
func (d *decoder) missing(m mapping, key string, parent entry, msg string) {
	if e, ok := m.get(key); ok {
		d.errorf(e.key, e.path, "%s", msg)
		return
	}
	d.errorf(parent.key, join(parent.path, key), "%s", msg)
}

// required reads the string key of m, reporting msg when it is missing and
// what valid says about a value that is there.
func (d *decoder) required(m mapping, key string, parent entry, valid func(string) string, msg string) string {
	e, ok := m.present(key)
	if !ok {
		d.missing(m, key, parent, msg)
		return ""
	}
	v, ok := d.str(e)
	if ok {
		d.check(e.val, e.path, valid(v))
	}
	return v
}

func (d *decoder) ssh(e entry, s *SSH) {
	m, _ := d.mapping(e.val, e.path, sshSection)
	if e, ok := m.present("user"); ok {
		if v, ok := d.str(e); ok {
			if !userName.MatchString(v) {
				d.errorf(e.val, e.path, "invalid user name %s", quote(v))
			}
			s.User = v
		}
	}
	if e, ok := m.present("port"); ok {
		if v, ok := d.int(e); ok {
			d.check(e.val, e.path, checkPortNumber(v))
			s.Port = v
		}
	}
	if e, ok := m.present("key"); ok {
		if v, ok := d.str(e); ok {
			s.Key = expandHome(v)
		}
	}
	if e, ok := m.present("known_hosts"); ok {
		if v, ok := d.str(e); ok && v != "" {
			s.KnownHosts = expandHome(v)
		}
	}
	if e, ok := m.present("trust_on_first_use"); ok {
		s.TrustOnFirstUse, _ = d.bool(e)
	}
}

func (d *decoder) proxy(e entry, p *Proxy) {
	m, _ := d.mapping(e.val, e.path, proxySection)
	if e, ok := m.present("http_port"); ok {
		if v, ok := d.int(e); ok {
			d.check(e.val, e.path, checkPortNumber(v))
			p.HTTPPort = v
		}
	}
	if e, ok := m.present("https_port"); ok {
		if v, ok := d.int(e); ok {
			d.check(e.val, e.path, checkPortNumber(v))
			p.HTTPSPort = v
			if v == p.HTTPPort {
				d.errorf(e.val, e.path, "must differ from http_port")
			}
		}
	}
	if e, ok := m.present("image"); ok {
		if v, ok := d.str(e); ok && v != "" {
			d.check(e.val, e.path, checkImage(v))
			p.Image = v
		}
	}
	if e, ok := m.present("acme"); ok {
		d.acme(e, &p.ACME)
	}
}

// acme reads the CA of automatic certificates. ca_certificate is a PEM
// file, relative to luma.yml, read now so a wrong path fails here.
func (d *decoder) acme(e entry, a *ACME) {
	m, _ := d.mapping(e.val, e.path, acmeSection)
	if e, ok := m.present("email"); ok {
		if v, ok := d.str(e); ok && v != "" {
			d.check(e.val, e.path, checkEmail(v))
			a.Email = v
		}
	}
	if e, ok := m.present("directory"); ok {
		if v, ok := d.str(e); ok && v != "" {
			switch v {
			case "production", "letsencrypt":
				a.Directory = LetsEncrypt
			case "staging", "letsencrypt-staging":
				a.Directory = LetsEncryptStaging
			default:
				d.check(e.val, e.path, checkDirectoryURL(v))
				a.Directory = v
			}
		}
	}
	if e, ok := m.present("ca_certificate"); ok {
		if v, ok := d.str(e); ok && v != "" {
			path := expandHome(v)
			if !filepath.IsAbs(path) {
				path = filepath.Join(d.dir, path)
			}
			pem, msg := readCABundle(path, v)
			d.check(e.val, e.path, msg)
			a.CACertificate, a.CAFile = pem, path
		}
	}
}

// registry reads the registry images are pulled from and builds pushed
// to. password names a secret: its value lives in .luma/secrets.
func (d *decoder) registry(e entry) *Registry {
	r := &Registry{}
	m, ok := d.mapping(e.val, e.path, registrySection)
	if !ok {
		return r
	}
	r.Server = d.required(m, "server", e, checkRegistryServer, "missing: set the registry, e.g. server: ghcr.io/acme")
	r.Username = d.required(m, "username", e, func(string) string { return "" }, "missing: set the user the servers pull as")
	r.Password = d.required(m, "password", e, checkSecretName,
		"missing: name the secret in .luma/secrets that holds the password or token, e.g. password: REGISTRY_PASSWORD")
	return r
}

func (d *decoder) app(name string, e entry) App {
	a := App{
		Name:     name,
		Replicas: defaultReplicas,
		HealthCheck: HealthCheck{
			Path: defaultHealthPath, StartPeriod: defaultStartPeriod, Interval: defaultInterval,
			Timeout: defaultTimeout, Retries: defaultRetries,
		},
		DrainTimeout: defaultDrainTimeout,
		StopTimeout:  defaultStopTimeout,
	}
	m, ok := d.mapping(e.val, e.path, appSection)
	if !ok {
		return a
	}
	img, hasImage := m.present("image")
	b, hasBuild := m.present("build")
	if !hasImage && !hasBuild {
		d.errorf(e.key, e.path, "needs an image (image: my-app) or a build (build: {context: .})")
	}
	if hasImage {
		if v, ok := d.str(img); ok {
			msg := checkImage(v)
			if msg == "" && hasBuild {
				msg = checkBuildImage(v)
			}
			d.check(img.val, img.path, msg)
			a.Image = v
		}
	}
	if hasBuild {
		a.Build = d.build(b)
	}
	a.Servers = d.servers(m, e)
	if e, ok := m.present("replicas"); ok {
		if v, ok := d.int(e); ok {
			if v < 1 {
				d.errorf(e.val, e.path, "must be at least 1")
			}
			a.Replicas = v
		}
	}
	if e, ok := m.present("environment"); ok {
		a.Environment = d.environment(e)
	}
	if e, ok := m.present("proxy"); ok {
		a.Proxy = d.appProxy(name, e)
	}
	if e, ok := m.present("health_check"); ok {
		d.healthCheck(e, &a.HealthCheck)
	}
	if e, ok := m.present("volumes"); ok {
		a.Volumes = d.volumes(e)
	}
	if e, ok := m.present("command"); ok {
		a.Command = d.command(e)
	}
	if e, ok := m.present("drain_timeout"); ok {
		a.DrainTimeout = d.timeout(e, a.DrainTimeout)
	}
	if e, ok := m.present("stop_timeout"); ok {
		a.StopTimeout = d.timeout(e, a.StopTimeout)
	}
	if e, ok := m.present("keep_releases"); ok {
		a.KeepReleases = d.keepReleases(e, a.KeepReleases)
	}
	return a
}

// keepReleases reads how many releases' images pruning keeps: at least
// one, the release that serves.
func (d *decoder) keepReleases(e entry, def int) int {
	v, ok := d.int(e)
	if !ok {
		return def
	}
	if v < 1 {
		d.errorf(e.val, e.path, "must be at least 1: the release that serves is always kept")
	}
	return v
}

// timeout reads a duration that may be 0 (stop or drain at once).
func (d *decoder) timeout(e entry, def time.Duration) time.Duration {
	v, ok := d.duration(e)
	if !ok {
		return def
	}
	if v < 0 {
		d.errorf(e.val, e.path, "must not be negative")
	}
	return v
}

// positive reads a duration that must be greater than 0.
func (d *decoder) positive(e entry, def time.Duration) time.Duration {
	v, ok := d.duration(e)
	if !ok {
		return def
	}
	if v <= 0 {
		d.errorf(e.val, e.path, "must be greater than 0")
	}
	return v
}

func (d *decoder) servers(m mapping, parent entry) []string {
	e, ok := m.present("servers")
	if !ok {
		d.missing(m, "servers", parent, `missing: list the servers to deploy to, e.g. servers: ["server1"], or ["localhost"] for this machine`)
		return nil
	}
	items, ok := d.list(e)
	if ok && len(items) == 0 {
		d.errorf(e.val, e.path, "must list at least one server")
	}
	seen := map[string]bool{}
	for _, it := range items {
		if msg := checkServer(it.s); msg != "" {
			d.errorf(it.node, it.path, "%s", msg)
		} else if seen[it.s] {
			d.errorf(it.node, it.path, "%s is listed twice", quote(it.s))
		}
		seen[it.s] = true
	}
	return strs(items)
}

func (d *decoder) build(e entry) *Build {
	b := &Build{Context: d.dir, Dockerfile: defaultDockerfile}
	m, ok := d.mapping(e.val, e.path, buildSection)
	if !ok {
		return b
	}
	if e, ok := m.present("context"); ok {
		if v, ok := d.str(e); ok && v != "" {
			v = expandHome(v)
			if !filepath.IsAbs(v) {
				v = filepath.Join(d.dir, v)
			}
			b.Context = filepath.Clean(v)
		}
	}
	if e, ok := m.present("dockerfile"); ok {
		if v, ok := d.str(e); ok && v != "" {
			b.Dockerfile = v
		}
	}
	if e, ok := m.present("args"); ok {
		am, _ := d.mapping(e.val, e.path, nil)
		for _, k := range am.keys {
			ae := am.entries[k]
			if v, ok := d.str(ae); ok {
				if b.Args == nil {
					b.Args = map[string]string{}
				}
				b.Args[k] = v
			}
		}
	}
	if e, ok := m.present("target"); ok {
		b.Target, _ = d.str(e)
	}
	if e, ok := m.present("platform"); ok {
		if v, ok := d.str(e); ok && v != "" {
			d.check(e.val, e.path, checkPlatform(v))
			b.Platform = v
		}
	}
	return b
}

// environment reads plain KEY=VALUE entries and secret names. Messages
// name variables but never repeat a value.
func (d *decoder) environment(e entry) Environment {
	var env Environment
	m, ok := d.mapping(e.val, e.path, envSection)
	if !ok {
		return env
	}
	first := map[string]int{} // variable → line first set
	seen := func(it item, name string) {
		if line, dup := first[name]; dup {
			d.errorf(it.node, it.path, "%s is already set on line %d", name, line)
			return
		}
		first[name] = it.node.Line
	}
	if e, ok := m.present("plain"); ok {
		items, _ := d.list(e)
		for _, it := range items {
			name, _, hasValue := strings.Cut(it.s, "=")
			switch {
			case !hasValue:
				d.errorf(it.node, it.path, "must be KEY=VALUE; to take a value from .luma/secrets, list the name under secret")
			case checkEnvName(name) != "":
				d.errorf(it.node, it.path, "%s", checkEnvName(name))
			default:
				seen(it, name)
			}
		}
		env.Plain = strs(items)
	}
	if e, ok := m.present("secret"); ok {
		items, _ := d.list(e)
		for _, it := range items {
			if strings.Contains(it.s, "=") {
				d.errorf(it.node, it.path, "must be a name only; its value goes in .luma/secrets, never in luma.yml")
			} else if msg := checkEnvName(it.s); msg != "" {
				d.errorf(it.node, it.path, "%s", msg)
			} else {
				seen(it, it.s)
			}
		}
		env.Secret = strs(items)
	}
	return env
}

func (d *decoder) appProxy(app string, e entry) *AppProxy {
	p := &AppProxy{MaxBodySize: defaultMaxBodySize}
	m, ok := d.mapping(e.val, e.path, appProxySection)
	if !ok {
		return p
	}
	if he, ok := m.present("hosts"); ok {
		items, ok := d.list(he)
		if ok && len(items) == 0 {
			d.errorf(he.val, he.path, "must list at least one host")
		}
		for _, it := range items {
			if msg := checkProxyHost(it.s); msg != "" {
				d.errorf(it.node, it.path, "%s", msg)
				continue
			}
			h := strings.ToLower(strings.TrimSuffix(it.s, "."))
			switch other, taken := d.hosts[h]; {
			case taken && other == app:
				d.errorf(it.node, it.path, "%s is listed twice", quote(it.s))
			case taken:
				d.errorf(it.node, it.path, "%s is already routed to app %q; a host can point at one app only", quote(it.s), other)
			default:
				d.hosts[h] = app
			}
		}
		p.Hosts = strs(items)
	} else {
		d.missing(m, "hosts", e, `missing: list the domains to route to this app, e.g. hosts: ["blog.com"]`)
	}
	if pe, ok := m.present("app_port"); ok {
		if v, ok := d.int(pe); ok {
			d.check(pe.val, pe.path, checkPortNumber(v))
			p.AppPort = v
		}
	} else {
		d.missing(m, "app_port", e, "missing: set the port your app listens on inside the container, e.g. app_port: 3000")
	}
	if be, ok := m.present("max_body_size"); ok {
		if v, ok := d.size(be); ok {
			p.MaxBodySize = v
		}
	}
	if ie, ok := m.present("upstream_idle_timeout"); ok {
		p.UpstreamIdleTimeout = d.positive(ie, 0)
	}
	if se, ok := m.present("ssl"); ok {
		d.ssl(se, p)
	}
	p.SSLRedirect = p.SSL
	// ssl_redirect alone is harmless (the template shows its default);
	// hsts alone would be a promise nothing keeps.
	if re, ok := m.present("ssl_redirect"); ok {
		v, _ := d.bool(re)
		p.SSLRedirect = v && p.SSL
	}
	if he, ok := m.present("hsts"); ok {
		p.HSTS, _ = d.bool(he)
		if p.HSTS && !p.SSL {
			d.errorf(he.key, he.path, "only applies with ssl: set ssl: true, or remove hsts")
		}
	}
	return p
}

// ssl reads ssl: true (a certificate from ACME for each host) or ssl:
// {certificate, private_key} (the app's own, from two secrets).
func (d *decoder) ssl(e entry, p *AppProxy) {
	if n := resolve(e.val); n != nil && n.Kind == yaml.MappingNode {
		m, _ := d.mapping(e.val, e.path, sslSection)
		c := &Certificate{}
		c.Certificate = d.required(m, "certificate", e, checkSecretName,
			"missing: name the secret in .luma/secrets that holds the PEM certificate chain, e.g. certificate: BLOG_CERT")
		c.PrivateKey = d.required(m, "private_key", e, checkSecretName,
			"missing: name the secret in .luma/secrets that holds the PEM private key, e.g. private_key: BLOG_KEY")
		p.SSL, p.Certificate = true, c
		return
	}
	p.SSL, _ = d.bool(e)
	if !p.SSL {
		return
	}
	for _, h := range p.Hosts {
		if strings.HasPrefix(h, "*.") {
			d.errorf(e.val, e.path, "%s is a wildcard: ACME certificates for wildcards need a DNS challenge, which luma-proxy does not answer; give the app its own certificate with ssl: {certificate: SECRET, private_key: SECRET}", quote(h))
		}
	}
}

func (d *decoder) healthCheck(e entry, h *HealthCheck) {
	m, _ := d.mapping(e.val, e.path, healthSection)
	if e, ok := m.present("path"); ok {
		if v, ok := d.str(e); ok {
			if !strings.HasPrefix(v, "/") {
				d.errorf(e.val, e.path, `must start with /, e.g. "/up"`)
			}
			h.Path = v
		}
	}
	if e, ok := m.present("start_period"); ok {
		h.StartPeriod = d.positive(e, h.StartPeriod)
	}
	if e, ok := m.present("interval"); ok {
		h.Interval = d.positive(e, h.Interval)
	}
	if e, ok := m.present("timeout"); ok {
		h.Timeout = d.positive(e, h.Timeout)
	}
	if e, ok := m.present("retries"); ok {
		if v, ok := d.int(e); ok {
			if v < 1 {
				d.errorf(e.val, e.path, "must be at least 1")
			}
			h.Retries = v
		}
	}
}

func (d *decoder) volumes(e entry) []string {
	items, _ := d.list(e)
	for _, it := range items {
		d.check(it.node, it.path, checkVolume(it.s))
	}
	return strs(items)
}

func (d *decoder) service(name string, e entry) Service {
	s := Service{Name: name}
	m, ok := d.mapping(e.val, e.path, serviceSection)
	if !ok {
		return s
	}
	s.Image = d.required(m, "image", e, checkImage, "missing: set the image to run, e.g. image: postgres:16")
	s.Servers = d.servers(m, e)
	if pe, ok := m.present("ports"); ok {
		items, _ := d.list(pe)
		for _, it := range items {
			d.check(it.node, it.path, checkPublish(it.s))
		}
		s.Ports = strs(items)
	}
	if ve, ok := m.present("volumes"); ok {
		s.Volumes = d.volumes(ve)
	}
	if ee, ok := m.present("environment"); ok {
		s.Environment = d.environment(ee)
	}
	if ce, ok := m.present("command"); ok {
		s.Command = d.command(ce)
	}
	return s
}

// expandHome expands a leading ~ the way a shell would, since luma.yml
// paths are written like shell paths.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}
