package multiserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
)

// namespaces are the test servers' network namespaces: server I is
// luma-sI at 10.231.I.2, and reaches only the host's 10.231.I.1.
func namespaces() []testenv.Namespace {
	var ns []testenv.Namespace
	for i, s := range servers {
		ns = append(ns, testenv.Namespace{Name: fmt.Sprintf("luma-s%d", i+1), Host: strings.TrimSuffix(s, ".2") + ".1"})
	}
	return ns
}

// TestRegistryThreeServers deploys through a registry with basic auth
// that the laptop's engine and the three servers' engines reach at the
// same 127.0.0.1:PORT: an app with a build is built once, pushed once,
// and pulled by every server, which serves it; a wrong password and a
// missing image are refused before anything changes on any server; a
// service image is pulled by `luma setup` on every server. The password
// shows in no output.
func TestRegistryThreeServers(t *testing.T) {
	reg := testenv.NewNamespaceRegistry(t, namespaces()...)
	e := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := newProject(t, "msreg")
	namespace := reg.Addr + "/" + p.name

	// hello v2 in the registry, for the refusals and a deploy by image.
	auth := &drivers.RegistryAuth{Server: reg.Addr, Username: reg.User, Password: reg.Password}
	v2 := namespace + "/hello:v2"
	testenv.DockerCLI(t, "", "tag", testenv.BuildHello(t, "v2"), v2)
	t.Cleanup(func() { testenv.DockerCLI(t, "", "rmi", "-f", v2) })
	if err := e.PushImage(ctx, v2, auth); err != nil {
		t.Fatalf("push %s: %v", v2, err)
	}

	// The build context: hello at version b1.
	buildDir := t.TempDir()
	gobuild := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=b1", "-o", filepath.Join(buildDir, "hello"), ".")
	gobuild.Dir, gobuild.Env = testenv.HelloDir(t), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
	dockerfile, err := os.ReadFile(filepath.Join(testenv.HelloDir(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(buildDir, "Dockerfile"), dockerfile, 0o644)

	p.secret(t, reg.Password)
	p.writeRegistry(t, namespace, reg.User, "build: {context: "+buildDir+"}", "")
	mustLuma(t, p.dir, "setup")
	r := mustLuma(t, p.dir, "deploy", "--release", "r1")
	assertReadable(t, r.Stdout)
	built := fmt.Sprintf("%s/%s-%s:r1", namespace, p.name, p.app)
	t.Cleanup(func() { testenv.DockerCLI(t, "", "rmi", "-f", built, p.name+"-"+p.app+":r1") })
	if n := strings.Count(r.Stdout, "Building "); n != 1 {
		t.Errorf("built %d times, want once", n)
	}
	if n := strings.Count(r.Stdout, "Pushing "+built+"..."); n != 1 {
		t.Errorf("pushed %d times, want once", n)
	}
	id := testenv.DockerCLI(t, "", "image", "inspect", "-f", "{{.Id}}", built)
	for i, s := range servers {
		if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] Pulling %s on the server...", s, built)) {
			t.Errorf("deploy output lacks the pull on %s", s)
		}
		if strings.Contains(r.Stdout, fmt.Sprintf("[%s] Sending image", s)) {
			t.Errorf("the image was sent to %s over SSH, not pulled", s)
		}
		if got := docker(t, i, "image", "inspect", "-f", "{{.Id}}", built); got != id {
			t.Errorf("[%s] %s is %s, the laptop built %s", s, built, got, id)
		}
	}
	p.assertServing(t, "blue", "b1", "r1")
	noPassword(t, reg.Password, r)

	// Refused before anything changes on any server.
	before := registrySnapshot(t, p)
	unchanged := func(what string, r result, want ...string) {
		t.Helper()
		if r.Code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", what, r.Code, r)
		}
		for _, w := range append(want, "nothing was changed") {
			if !strings.Contains(r.Stderr+r.Stdout, w) {
				t.Errorf("%s: output lacks %q", what, w)
			}
		}
		for _, s := range servers {
			if !strings.Contains(r.Stderr, "["+s+"]") {
				t.Errorf("%s: the error does not name %s", what, s)
			}
		}
		noPassword(t, reg.Password, r)
		if after := registrySnapshot(t, p); after != before {
			t.Errorf("%s: servers changed:\nbefore %s\nafter  %s", what, before, after)
		}
		for i, s := range servers {
			if v := version(t, i, p.hosts[0]); v["version"] != "b1" || v["release"] != "r1" {
				t.Errorf("%s: [%s] serves %v, want b1 r1", what, s, v)
			}
		}
	}
	p.secret(t, "wrong-"+reg.Password)
	p.writeRegistry(t, namespace, reg.User, "image: "+v2, "")
	unchanged("wrong password", luma(t, p.dir, "deploy", "--release", "r2"), v2, "registry "+reg.Addr, "unauthorized")
	p.secret(t, reg.Password)
	missing := namespace + "/hello:missing"
	p.writeRegistry(t, namespace, reg.User, "image: "+missing, "")
	unchanged("missing image", luma(t, p.dir, "deploy", "--release", "r2"), missing, "registry "+reg.Addr, "not found")

	// The right password: every server pulls v2 (no lock was left).
	p.writeRegistry(t, namespace, reg.User, "image: "+v2, "")
	r = mustLuma(t, p.dir, "deploy", "--release", "r2")
	p.assertServing(t, "green", "v2", "r2")

	// A service image of the registry, on no server, pulled by setup.
	v1 := namespace + "/hello:v1"
	testenv.DockerCLI(t, "", "tag", testenv.BuildHello(t, "v1"), v1)
	t.Cleanup(func() { testenv.DockerCLI(t, "", "rmi", "-f", v1) })
	if err := e.PushImage(ctx, v1, auth); err != nil {
		t.Fatalf("push %s: %v", v1, err)
	}
	p.writeRegistry(t, namespace, reg.User, "image: "+v2, fmt.Sprintf("services:\n  cache:\n    image: %s\n    servers: [%s]\n", v1, testenv.Quote(servers)))
	r = mustLuma(t, p.dir, "setup")
	noPassword(t, reg.Password, r)
	for i, s := range servers {
		if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] Pulling %s on the server...", s, v1)) {
			t.Errorf("setup did not pull the service image on %s", s)
		}
		if state := docker(t, i, "inspect", "-f", "{{.State.Status}} {{.Config.Image}}", p.name+"-cache"); state != "running "+v1 {
			t.Errorf("[%s] service cache: %s, want running %s", s, state, v1)
		}
	}
}

// secret writes .luma/secrets with the registry's password.
func (p *project) secret(t testing.TB, password string) {
	t.Helper()
	os.MkdirAll(filepath.Join(p.dir, ".luma"), 0o700)
	if err := os.WriteFile(filepath.Join(p.dir, ".luma", "secrets"), []byte("REGISTRY_PASSWORD="+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeRegistry writes luma.yml with the registry (server host[:port]/
// namespace) and an app whose image line is source (image: or build:),
// followed by extra top-level YAML.
func (p *project) writeRegistry(t testing.TB, server, user, source, extra string) {
	t.Helper()
	q := testenv.Quote
	yml := fmt.Sprintf(`name: %s
ssh:
  user: root
  key: %s
  known_hosts: %s
proxy:
  http_port: %d
registry:
  server: %s
  username: %s
  password: REGISTRY_PASSWORD
apps:
  %s:
    %s
    servers: [%s]
    replicas: 2
    proxy:
      hosts: [%s]
      app_port: 3000
    health_check:
      start_period: 5s
      interval: 500ms
      timeout: 2s
      retries: 2
    drain_timeout: 10s
    stop_timeout: 10s
%s`, p.name, env["LUMA_SSH_KEY"], env["LUMA_KNOWN_HOSTS"], proxyPort, server, user, p.app, source, q(p.servers), q(p.hosts), extra)
	if err := os.WriteFile(filepath.Join(p.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// registrySnapshot is, on every server, each container of p with its ID
// and state, and its images.
func registrySnapshot(t *testing.T, p *project) string {
	t.Helper()
	var b strings.Builder
	for i, s := range servers {
		fmt.Fprintf(&b, "[%s] %s | %s | ", s,
			docker(t, i, "ps", "-a", "--filter", "label=luma.project="+p.name, "--format", "{{.ID}} {{.Names}} {{.State}}"),
			docker(t, i, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
	}
	return b.String()
}

// noPassword fails the test when the password shows in r's output.
func noPassword(t testing.TB, password string, r result) {
	t.Helper()
	if strings.Contains(r.Stdout+r.Stderr, password) {
		t.Error("the registry password shows in luma's output")
	}
}
