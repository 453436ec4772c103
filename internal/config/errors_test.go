package config

import (
	"errors"
	"strings"
	"testing"
)

// blog wraps an app body: its first line is line 4 of the file.
func blog(body string) string {
	return "name: shop\napps:\n  blog:\n" + body
}

const ok = "    image: my-blog\n    servers: [\"server1\"]\n"

// errorCases has one row per kind of mistake, with the exact message a
// user sees, position included. FuzzParse uses the inputs as seeds.
var errorCases = []struct {
	name, in, want string
}{
	// Documents.
	{"empty file", "", `luma.yml:1:1: the file is empty: run "luma init" for a commented example`},
	{"only comments", "# nothing yet\n\n", `luma.yml:1:1: the file is empty: run "luma init" for a commented example`},
	{"not a mapping", "- blog\n- api\n", `luma.yml:1:1: must be a mapping of settings (name:, apps:, ...), got a list`},
	{"scalar document", "hello\n", `luma.yml:1:1: must be a mapping of settings (name:, apps:, ...), got the string "hello"`},
	{"two documents", blog(ok) + "---\nname: other\n", `luma.yml:6:1: found a second YAML document (after ---); luma.yml holds one document`},

	// YAML syntax: line from the parser, no column.
	{"syntax colon", blog("    image: a: b\n" + ok), `luma.yml:4: invalid YAML: mapping values are not allowed in this context (check the indentation, and quote values that contain ": ")`},
	{"syntax indentation", blog(ok + "   replicas: 2\n"), `luma.yml:6: invalid YAML: did not find expected key (check the indentation of this line)`},
	{"syntax tab", blog("\timage: x\n"), `luma.yml:4: invalid YAML: found character that cannot start any token (indent with spaces: YAML does not allow tabs)`},
	{"syntax unclosed list", blog("    servers: [\"a\",\n    image: x\n"), `luma.yml:4: invalid YAML: did not find expected ',' or ']' (the [...] that starts on this line needs commas between items and a closing ])`},
	{"syntax unknown anchor", blog(ok + "    replicas: *count\n"), `luma.yml:6:15: invalid YAML: unknown anchor 'count' referenced (define it first with &count)`},
	{"syntax control character", blog(ok + "    command: \"a\x01\"\n"), `luma.yml:6:16: invalid YAML: control characters are not allowed`},

	// HTTPS.
	{"ssl wildcard by acme", blog(ok + "    proxy:\n      hosts: [\"*.blog.com\"]\n      app_port: 3000\n      ssl: true\n"), `luma.yml:9:12: apps.blog.proxy.ssl: "*.blog.com" is a wildcard: ACME certificates for wildcards need a DNS challenge, which luma-proxy does not answer; give the app its own certificate with ssl: {certificate: SECRET, private_key: SECRET}`},
	{"ssl certificate value", blog(ok + "    proxy:\n      hosts: [blog.com]\n      app_port: 3000\n      ssl: {certificate: \"-----BEGIN\", private_key: KEY}\n"), `luma.yml:9:26: apps.blog.proxy.ssl.certificate: must be the name of a secret in .luma/secrets, e.g. REGISTRY_PASSWORD; its value goes in that file, never in luma.yml`},
	{"ssl certificate without key", blog(ok + "    proxy:\n      hosts: [blog.com]\n      app_port: 3000\n      ssl: {certificate: CERT}\n"), `luma.yml:9:7: apps.blog.proxy.ssl.private_key: missing: name the secret in .luma/secrets that holds the PEM private key, e.g. private_key: BLOG_KEY`},
	{"hsts without ssl", blog(ok + "    proxy: {hosts: [blog.com], app_port: 3000, hsts: true}\n"), `luma.yml:6:48: apps.blog.proxy.hsts: only applies with ssl: set ssl: true, or remove hsts`},
	{"acme directory http", "proxy: {acme: {directory: \"http://ca.example.com/dir\"}}\n" + blog(ok), `luma.yml:1:27: proxy.acme.directory: "http://ca.example.com/dir": want the https URL of an ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory, or production or staging (Let's Encrypt)`},
	{"acme email", "proxy: {acme: {email: ops}}\n" + blog(ok), `luma.yml:1:23: proxy.acme.email: "ops" is not an email address, e.g. email: ops@example.com`},
	{"acme ca file", "proxy: {acme: {ca_certificate: missing.pem}}\n" + blog(ok), `luma.yml:1:32: proxy.acme.ca_certificate: cannot read missing.pem: no such file or directory`},

	// Keys.
	{"duplicate key", blog(ok + "    image: other\n"), `luma.yml:6:5: apps.blog.image: duplicate key (first set on line 4)`},
	{"unknown key typo", blog(ok + "    replica: 2\n"), `luma.yml:6:5: apps.blog.replica: unknown key; did you mean "replicas"?`},
	{"unknown key two edits", blog(ok + "    helth_chek: {}\n"), `luma.yml:6:5: apps.blog.helth_chek: unknown key; did you mean "health_check"?`},
	{"unknown key prefix", blog(ok + "    env: {}\n"), `luma.yml:6:5: apps.blog.env: unknown key; did you mean "environment"?`},
	{"unknown key nested", blog(ok + "    hosts: [blog.com]\n"), `luma.yml:6:5: apps.blog.hosts: unknown key; did you mean "proxy.hosts"?`},
	{"unknown key no match", blog(ok + "    zzz: 1\n"), `luma.yml:6:5: apps.blog.zzz: unknown key; valid keys here are image, build, servers, replicas, environment, proxy, health_check, volumes, command, drain_timeout, stop_timeout, keep_releases`},
	{"unknown top key", blog(ok) + "sssh: {}\n", `luma.yml:6:1: sssh: unknown key; did you mean "ssh"?`},
	{"app key at top level", "image: x\n" + "name: shop\napps:\n  blog:\n" + ok, `luma.yml:1:1: image: unknown key; app settings go under apps.<name>, e.g. apps.web.image`},
	{"unknown ssh key", "ssh:\n  usr: deploy\n" + blog(ok), `luma.yml:2:3: ssh.usr: unknown key; did you mean "user"?`},
	{"service takes no replicas", blog(ok) + "services:\n  db:\n    image: postgres\n    servers: [server1]\n    replicas: 2\n",
		`luma.yml:10:5: services.db.replicas: unknown key; only apps take replicas; services take image, servers, ports, volumes, environment, command`},

	// Types.
	{"replicas not a number", blog(ok + "    replicas: \"three\"\n"), `luma.yml:6:15: apps.blog.replicas: must be a whole number, got the string "three"`},
	{"replicas quoted number", blog(ok + "    replicas: \"3\"\n"), `luma.yml:6:15: apps.blog.replicas: must be a number, not a string: write 3 without quotes`},
	{"replicas float", blog(ok + "    replicas: 1.5\n"), `luma.yml:6:15: apps.blog.replicas: must be a whole number, got the number 1.5`},
	{"servers a string", blog("    image: my-blog\n    servers: server1\n"), `luma.yml:5:14: apps.blog.servers: must be a list: write ["server1"]`},
	{"servers a mapping", blog("    image: my-blog\n    servers: {a: 1}\n"), `luma.yml:5:14: apps.blog.servers: must be a list, got a mapping`},
	{"list item not a string", blog("    image: my-blog\n    servers: [[a]]\n"), `luma.yml:5:15: apps.blog.servers[0]: must be a string, got a list`},
	{"size", blog(ok + "    proxy: {hosts: [blog.com], app_port: 3000, max_body_size: 10 parsecs}\n"), `luma.yml:6:63: apps.blog.proxy.max_body_size: invalid size "10 parsecs": use a number and a unit, e.g. "100MiB", "1GiB", "512KB" (0 for no limit)`},
	{"idle timeout without unit", blog(ok + "    proxy: {hosts: [blog.com], app_port: 3000, upstream_idle_timeout: 2}\n"), `luma.yml:6:71: apps.blog.proxy.upstream_idle_timeout: needs a unit: write "2s" or "2ms"`},
	{"bool", blog(ok + "    proxy: {hosts: [blog.com], app_port: 3000, ssl: \"yes\"}\n"), `luma.yml:6:53: apps.blog.proxy.ssl: must be true or false, got the string "yes"`},
	{"app not a mapping", "name: shop\napps:\n  blog: [x]\n", `luma.yml:3:9: apps.blog: must be a mapping of key: value lines, got a list`},
	{"image a list", blog("    image: [x]\n    servers: [a]\n"), `luma.yml:4:12: apps.blog.image: must be a string, got a list`},

	// Durations.
	{"duration invalid", blog(ok + "    stop_timeout: 5x\n"), `luma.yml:6:19: apps.blog.stop_timeout: invalid duration "5x": use a number and a unit, e.g. "10s", "1m30s", "500ms"`},
	{"duration without unit", blog(ok + "    drain_timeout: 10\n"), `luma.yml:6:20: apps.blog.drain_timeout: needs a unit: write "10s" or "10ms"`},
	{"duration negative", blog(ok + "    drain_timeout: -1s\n"), `luma.yml:6:20: apps.blog.drain_timeout: must not be negative`},
	{"health duration zero", blog(ok + "    health_check:\n      interval: 0s\n"), `luma.yml:7:17: apps.blog.health_check.interval: must be greater than 0`},

	// Ranges.
	{"replicas zero", blog(ok + "    replicas: 0\n"), `luma.yml:6:15: apps.blog.replicas: must be at least 1`},
	{"retries zero", blog(ok + "    health_check: {retries: 0}\n"), `luma.yml:6:29: apps.blog.health_check.retries: must be at least 1`},
	{"app port zero", blog(ok + "    proxy: {hosts: [blog.com], app_port: 0}\n"), `luma.yml:6:42: apps.blog.proxy.app_port: must be a port from 1 to 65535, got 0`},
	{"ssh port too big", "ssh: {port: 70000}\n" + blog(ok), `luma.yml:1:13: ssh.port: must be a port from 1 to 65535, got 70000`},
	{"proxy ports equal", "proxy: {http_port: 8080, https_port: 8080}\n" + blog(ok), `luma.yml:1:38: proxy.https_port: must differ from http_port`},
	{"service port", blog(ok) + "services:\n  db:\n    image: postgres\n    servers: [server1]\n    ports: [\"5432:70000\"]\n",
		`luma.yml:10:13: services.db.ports[0]: port "70000" must be a number from 1 to 65535 in "5432:70000"`},
	{"service port syntax", blog(ok) + "services:\n  db:\n    image: postgres\n    servers: [server1]\n    ports: [\"5432\"]\n",
		`luma.yml:10:13: services.db.ports[0]: invalid port mapping "5432": use [hostIP:]hostPort:containerPort[/tcp|udp], e.g. "127.0.0.1:5432:5432"`},

	// Names.
	{"missing name", "apps:\n  blog:\n" + ok, `luma.yml:1:1: name: missing: set the project name, e.g. name: myproject`},
	{"empty name", "name:\napps:\n  blog:\n" + ok, `luma.yml:1:1: name: missing: set the project name, e.g. name: myproject`},
	{"project name", "name: My_Shop\napps:\n  blog:\n" + ok, `luma.yml:1:7: name: "My_Shop" is not a valid name: use lowercase letters, digits and -, at most 63 characters, not starting or ending with - (e.g. "my-shop")`},
	{"app name", "name: shop\napps:\n  -blog:\n" + ok, `luma.yml:3:3: apps.-blog: "-blog" is not a valid name: use lowercase letters, digits and -, at most 63 characters, not starting or ending with - (e.g. "blog")`},
	{"service name", blog(ok) + "services:\n  my_db:\n    image: postgres\n    servers: [server1]\n",
		`luma.yml:7:3: services.my_db: "my_db" is not a valid name: use lowercase letters, digits and -, at most 63 characters, not starting or ending with - (e.g. "my-db")`},
	{"service named like an app", blog(ok) + "services:\n  blog:\n    image: postgres\n    servers: [server1]\n",
		`luma.yml:7:3: services.blog: name already used by an app; apps and services share one network, so names must differ`},
	{"nothing to deploy", "name: shop\napps: {}\n", `luma.yml:2:1: apps: nothing to deploy: add an app under apps:`},

	// Images and builds.
	{"neither image nor build", blog("    servers: [server1]\n"), `luma.yml:3:3: apps.blog: needs an image (image: my-app) or a build (build: {context: .})`},
	{"image digest with build", blog("    image: my-blog@sha256:" + strings.Repeat("ab", 32) + "\n    build: {context: .}\n    servers: [a]\n"),
		`luma.yml:4:12: apps.blog.image: names a digest, which a build cannot produce: name the image with a tag, e.g. "my-blog:1.0"`},
	{"keep_releases zero", blog(ok + "    keep_releases: 0\n"), `luma.yml:6:20: apps.blog.keep_releases: must be at least 1: the release that serves is always kept`},
	{"registry scheme", "registry: {server: \"https://ghcr.io/acme\", username: u, password: P}\n" + blog(ok), `luma.yml:1:20: registry.server: write the registry without a scheme, e.g. "ghcr.io/acme"`},
	{"registry not a host", "registry: {server: acme, username: u, password: P}\n" + blog(ok), `luma.yml:1:20: registry.server: invalid registry "acme": want host[:port][/namespace], e.g. ghcr.io/acme or registry.example.com:5000`},
	{"registry password value", "registry:\n  server: ghcr.io/acme\n  username: u\n  password: hunter2=x\n" + blog(ok), `luma.yml:4:13: registry.password: must be the name of a secret in .luma/secrets, e.g. REGISTRY_PASSWORD; its value goes in that file, never in luma.yml`},
	{"registry missing password", "registry:\n  server: ghcr.io/acme\n  username: u\n" + blog(ok), `luma.yml:1:1: registry.password: missing: name the secret in .luma/secrets that holds the password or token, e.g. password: REGISTRY_PASSWORD`},
	{"registry unknown key", "registry: {server: ghcr.io, user: u, password: P}\n" + blog(ok), "luma.yml:1:1: registry.username: missing: set the user the servers pull as\nluma.yml:1:29: registry.user: unknown key; did you mean \"username\"?"},
	{"keep_releases text", "name: shop\nkeep_releases: many\napps:\n  blog:\n" + ok, `luma.yml:2:16: keep_releases: must be a whole number, got the string "many"`},
	{"image reference", blog("    image: My-Blog\n    servers: [a]\n"), `luma.yml:4:12: apps.blog.image: invalid image reference "My-Blog": repository name (library/My-Blog) must be lowercase`},
	{"build platform", blog("    build: {platform: amd64}\n    servers: [a]\n"), `luma.yml:4:23: apps.blog.build.platform: invalid platform "amd64": use os/arch, e.g. "linux/amd64" or "linux/arm64"`},
	{"service without image", blog(ok) + "services:\n  db:\n    servers: [server1]\n", `luma.yml:7:3: services.db.image: missing: set the image to run, e.g. image: postgres:16`},

	// Servers.
	{"missing servers", blog("    image: my-blog\n"), `luma.yml:3:3: apps.blog.servers: missing: list the servers to deploy to, e.g. servers: ["server1"], or ["localhost"] for this machine`},
	{"empty servers", blog("    image: my-blog\n    servers: []\n"), `luma.yml:5:14: apps.blog.servers: must list at least one server`},
	{"servers syntax", blog("    image: my-blog\n    servers: [\"deploy@@host\"]\n"), `luma.yml:5:15: apps.blog.servers[0]: unknown servers syntax "deploy@@host": use host, user@host or user@host:port (IPv6 in brackets: "[::1]:22")`},
	{"servers bare ipv6", blog("    image: my-blog\n    servers: [\"2001:db8::1\"]\n"), `luma.yml:5:15: apps.blog.servers[0]: unknown servers syntax "2001:db8::1": put IPv6 addresses in brackets, e.g. "[2001:db8::1]:22"`},
	{"servers bad port", blog("    image: my-blog\n    servers: [\"host:0\"]\n"), `luma.yml:5:15: apps.blog.servers[0]: unknown servers syntax "host:0": the SSH port must be a number from 1 to 65535`},
	{"servers bad ipv4", blog("    image: my-blog\n    servers: [\"10.0.0.300\"]\n"), `luma.yml:5:15: apps.blog.servers[0]: unknown servers syntax "10.0.0.300": use host, user@host or user@host:port (IPv6 in brackets: "[::1]:22")`},
	{"servers twice", blog("    image: my-blog\n    servers: [a, a]\n"), `luma.yml:5:18: apps.blog.servers[1]: "a" is listed twice`},

	// Proxy.
	{"same host on two apps", blog(ok+"    proxy: {hosts: [blog.com], app_port: 3000}\n") + "  api:\n" + ok + "    proxy: {hosts: [Blog.com], app_port: 3000}\n",
		`luma.yml:10:21: apps.api.proxy.hosts[0]: "Blog.com" is already routed to app "blog"; a host can point at one app only`},
	{"proxy without hosts", blog(ok + "    proxy:\n      app_port: 3000\n"), `luma.yml:6:5: apps.blog.proxy.hosts: missing: list the domains to route to this app, e.g. hosts: ["blog.com"]`},
	{"proxy without app_port", blog(ok + "    proxy:\n      hosts: [blog.com]\n"), `luma.yml:6:5: apps.blog.proxy.app_port: missing: set the port your app listens on inside the container, e.g. app_port: 3000`},
	{"proxy host with scheme", blog(ok + "    proxy: {hosts: [\"https://blog.com\"], app_port: 3000}\n"), `luma.yml:6:21: apps.blog.proxy.hosts[0]: write the host name only, without "https://"`},

	// Environment, health check, volumes.
	{"env name", blog(ok + "    environment:\n      plain: [\"1PORT=3000\"]\n"), `luma.yml:7:15: apps.blog.environment.plain[0]: invalid variable name "1PORT": use letters, digits and _, not starting with a digit`},
	{"env without value", blog(ok + "    environment:\n      plain: [\"PORT\"]\n"), `luma.yml:7:15: apps.blog.environment.plain[0]: must be KEY=VALUE; to take a value from .luma/secrets, list the name under secret`},
	{"secret with value", blog(ok + "    environment:\n      secret: [\"DB_PASSWORD=hunter2\"]\n"), `luma.yml:7:16: apps.blog.environment.secret[0]: must be a name only; its value goes in .luma/secrets, never in luma.yml`},
	{"env set twice", blog(ok + "    environment:\n      plain: [\"DB=x\"]\n      secret: [DB]\n"), `luma.yml:8:16: apps.blog.environment.secret[0]: DB is already set on line 7`},
	{"health path", blog(ok + "    health_check:\n      path: up\n"), `luma.yml:7:13: apps.blog.health_check.path: must start with /, e.g. "/up"`},
	{"volume", blog(ok + "    volumes: [\"./data:/data\"]\n"), `luma.yml:6:15: apps.blog.volumes[0]: invalid volume "./data:/data": the host path must be absolute (it is a path on the server)`},
}

func TestErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("luma.yml", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned along with errors")
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, not *Errors: %v", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got\n  %s\nwant\n  %s", strings.ReplaceAll(got, "\n", "\n  "), tt.want)
			}
		})
	}
}

// TestAllErrorsAtOnce checks that one run reports every problem, sorted by
// position, so a user fixes the file in one pass.
func TestAllErrorsAtOnce(t *testing.T) {
	in := `name: Shop
ssh:
  port: "22"
apps:
  blog:
    image: my-blog
    servers: server1
    replica: 2
    proxy:
      hosts: [blog.com]
      app_port: 99999
  api:
    build: {context: ./api}
    image: my-api
    servers: ["a@@b"]
    proxy: {hosts: [blog.com], app_port: 8080}
    health_check: {path: up, interval: 1}
`
	want := []string{
		`luma.yml:1:7: name: "Shop" is not a valid name: use lowercase letters, digits and -, at most 63 characters, not starting or ending with - (e.g. "shop")`,
		`luma.yml:3:9: ssh.port: must be a number, not a string: write 22 without quotes`,
		`luma.yml:7:14: apps.blog.servers: must be a list: write ["server1"]`,
		`luma.yml:8:5: apps.blog.replica: unknown key; did you mean "replicas"?`,
		`luma.yml:11:17: apps.blog.proxy.app_port: must be a port from 1 to 65535, got 99999`,
		`luma.yml:15:15: apps.api.servers[0]: unknown servers syntax "a@@b": use host, user@host or user@host:port (IPv6 in brackets: "[::1]:22")`,
		`luma.yml:16:21: apps.api.proxy.hosts[0]: "blog.com" is already routed to app "blog"; a host can point at one app only`,
		`luma.yml:17:26: apps.api.health_check.path: must start with /, e.g. "/up"`,
		`luma.yml:17:40: apps.api.health_check.interval: needs a unit: write "1s" or "1ms"`,
	}
	_, err := Parse("luma.yml", []byte(in))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, not Errors: %v", err, err)
	}
	got := strings.Split(err.Error(), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(errs) != len(want) {
		t.Errorf("len(Errors) = %d, want %d", len(errs), len(want))
	}
	if errs[0].Line != 1 || errs[0].Col != 7 || errs[0].Key != "name" || errs[0].File != "luma.yml" {
		t.Errorf("first error fields = %+v", *errs[0])
	}
}

// TestErrorFormat pins the parts that are left out when unknown.
func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "a.yml", Line: 12, Col: 5, Key: "apps.blog.replicas", Msg: "must be at least 1"}, "a.yml:12:5: apps.blog.replicas: must be at least 1"},
		{Error{File: "a.yml", Line: 3, Msg: "invalid YAML: x"}, "a.yml:3: invalid YAML: x"},
		{Error{File: "a.yml", Msg: "x"}, "a.yml: x"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	// Callers may hold Errors by value or by pointer; both must match.
	var err error = &Errors{{File: "f", Line: 1, Msg: "m"}}
	var byValue Errors
	var byPointer *Errors
	var one *Error
	if !errors.As(err, &byValue) || len(byValue) != 1 {
		t.Error("errors.As(Errors) failed")
	}
	if !errors.As(err, &byPointer) || len(*byPointer) != 1 {
		t.Error("errors.As(*Errors) failed")
	}
	if !errors.As(err, &one) || one.Msg != "m" {
		t.Error("errors.As(*Error) failed")
	}
}
