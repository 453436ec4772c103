package e2e

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

// TestRegistry deploys from a real registry with basic auth on 127.0.0.1:
// an image the local engine does not have is pulled by the server with
// the credentials of luma.yml's registry and serves; a wrong password and
// a missing image are refused before anything changes; an app that builds
// is built once, pushed once and deployed from the registry; a service
// image is pulled by `luma setup`. The password shows nowhere.
func TestRegistry(t *testing.T) {
	reg := testenv.NewRegistry(t)
	e := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const project, name = "e2ereg", "webreg"
	removeProject(t, project)
	auth := &drivers.RegistryAuth{Server: reg.Addr, Username: reg.User, Password: reg.Password}

	// v1 and v2 of hello in the registry, and not on the local engine
	// under those names.
	push := func(version string) string {
		ref := fmt.Sprintf("%s/%s/hello:%s", reg.Addr, project, version)
		docker(t, "tag", testenv.BuildHello(t, version), ref)
		if err := e.PushImage(ctx, ref, auth); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		docker(t, "rmi", ref)
		return ref
	}
	v1, v2 := push("v1"), push("v2")
	t.Cleanup(func() { testenv.DockerCLI(t, "", "rmi", "-f", v1, v2) })

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".luma"), 0o700)
	secret := func(password string) {
		os.WriteFile(filepath.Join(dir, ".luma", "secrets"), []byte("REGISTRY_PASSWORD="+password+"\n"), 0o600)
	}
	write := func(image string) {
		yml := fmt.Sprintf(`name: %s
proxy:
  http_port: %d
registry:
  server: %s/%s
  username: %s
  password: REGISTRY_PASSWORD
apps:
  %s:
    %s
    servers: [localhost]
    proxy:
      hosts: [%s.test]
      app_port: 3000
    health_check: {start_period: 2s, interval: 200ms, timeout: 2s, retries: 2}
    drain_timeout: 1s
    stop_timeout: 2s
`, project, proxyPort, reg.Addr, project, reg.User, name, image, project)
		os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644)
	}
	secret(reg.Password)
	write("image: " + v1)
	mustLuma(t, dir, "setup")
	r := mustLuma(t, dir, "deploy", "--release", "r1")
	if !strings.Contains(r.Stdout, "[localhost] Pulling "+v1+" on the server...") {
		t.Errorf("deploy output lacks the pull line:\n%s", r)
	}
	if v := version(t, project+".test"); v["version"] != "v1" {
		t.Fatalf("serves %v, want v1", v)
	}
	before := containers(t, project, name)

	// Refused before anything changes: same containers, v1 still serves,
	// nothing pulled, no lock left (the next deploy goes through).
	unchanged := func(what string, r result, want ...string) {
		t.Helper()
		if r.Code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", what, r.Code, r)
		}
		for _, w := range append(want, "nothing was changed") {
			if !strings.Contains(r.Stderr+r.Stdout, w) {
				t.Errorf("%s: output lacks %q\n%s", what, w, r)
			}
		}
		if strings.Contains(r.Stdout+r.Stderr, "wrong-"+reg.Password) || strings.Contains(r.Stdout+r.Stderr, reg.Password) {
			t.Errorf("%s: a password shows in the output", what)
		}
		if got := containers(t, project, name); strings.Join(got, ",") != strings.Join(before, ",") {
			t.Errorf("%s: containers %v, were %v", what, got, before)
		}
		if v := version(t, project+".test"); v["version"] != "v1" {
			t.Errorf("%s: serves %v, want v1", what, v)
		}
	}
	secret("wrong-" + reg.Password)
	write("image: " + v2)
	unchanged("wrong password", luma(t, dir, "deploy", "--release", "r2"), v2, "registry "+reg.Addr, "unauthorized")
	if id, _ := e.ImageID(ctx, v2); id != "" {
		t.Errorf("wrong password: %s was pulled", v2)
	}
	secret(reg.Password)
	missing := fmt.Sprintf("%s/%s/hello:missing", reg.Addr, project)
	write("image: " + missing)
	unchanged("missing image", luma(t, dir, "deploy", "--release", "r2"), missing, "not found")

	// The right password: v2 deploys (no lock was left behind).
	write("image: " + v2)
	mustLuma(t, dir, "deploy", "--release", "r2")
	if v := version(t, project+".test"); v["version"] != "v2" {
		t.Fatalf("serves %v, want v2", v)
	}

	// A build: once on the local engine, pushed once, deployed by its
	// registry reference.
	buildDir := t.TempDir()
	gobuild := exec.Command("go", "build", "-o", filepath.Join(buildDir, "hello"), ".")
	gobuild.Dir, gobuild.Env = testenv.HelloDir(t), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("build hello: %v\n%s", err, out)
	}
	dockerfile, _ := os.ReadFile(filepath.Join(testenv.HelloDir(t), "Dockerfile"))
	os.WriteFile(filepath.Join(buildDir, "Dockerfile"), dockerfile, 0o644)
	write("build: {context: " + buildDir + "}")
	r = mustLuma(t, dir, "deploy", "--release", "r3")
	built := fmt.Sprintf("%s/%s/%s-%s:r3", reg.Addr, project, project, name)
	t.Cleanup(func() { testenv.DockerCLI(t, "", "rmi", "-f", built, project+"-"+name+":r3") })
	if !strings.Contains(r.Stdout, "Pushing "+built+"...") {
		t.Errorf("deploy output lacks the push line:\n%s", r)
	}
	if err := e.CheckImage(ctx, built, auth); err != nil {
		t.Errorf("the registry lacks the build: %v", err)
	}
	if cs := containers(t, project, name); len(cs) != 1 {
		t.Errorf("containers %v, want one", cs)
	} else if img := docker(t, "inspect", "-f", "{{.Config.Image}}", cs[0]); img != built {
		t.Errorf("%s runs %s, want %s", cs[0], img, built)
	}
	if code, _, err := get(project+".test", "/up"); err != nil || code != 200 {
		t.Errorf("after the build: GET /up %d %v", code, err)
	}

	// A service image of the registry, on no engine, is pulled by setup.
	docker(t, "rmi", "-f", v1)
	yml, _ := os.ReadFile(filepath.Join(dir, "luma.yml"))
	os.WriteFile(filepath.Join(dir, "luma.yml"), append(yml, fmt.Sprintf("services:\n  cache:\n    image: %s\n    servers: [localhost]\n", v1)...), 0o644)
	r = mustLuma(t, dir, "setup")
	if !strings.Contains(r.Stdout, "[localhost] Pulling "+v1+" on the server...") || !strings.Contains(r.Stdout, "Starting service cache") {
		t.Errorf("setup did not pull the service image:\n%s", r)
	}
	if state := docker(t, "inspect", "-f", "{{.State.Status}}", project+"-cache"); state != "running" {
		t.Errorf("service cache is %s", state)
	}
	if strings.Contains(r.Stdout+r.Stderr, reg.Password) {
		t.Error("setup shows the password")
	}
}
