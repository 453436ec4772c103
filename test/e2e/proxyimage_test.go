package e2e

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	dockerdriver "github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/testenv"
)

// A luma that cannot become luma-proxy (here dynamically linked; on a Mac,
// another OS) runs setup by pulling the luma-proxy image from a registry:
// the image goreleaser publishes, built from build/luma-proxy.Dockerfile.
func TestProxyImageFromRegistry(t *testing.T) {
	reg := testenv.NewRegistry(t)
	e := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	auth := &drivers.RegistryAuth{Server: reg.Addr, Username: reg.User, Password: reg.Password}

	// The published image, pushed to the registry and not left locally.
	ref := reg.Addr + "/luma-proxy:e2e"
	df, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "build", "luma-proxy.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(lumaBin)
	if err != nil {
		t.Fatal(err)
	}
	tar, err := dockerdriver.TarFiles(map[string][]byte{"Dockerfile": df, "luma": bin}, map[string]int64{"luma": 0o755})
	if err != nil {
		t.Fatal(err)
	}
	spec := drivers.BuildSpec{Tag: ref, Dockerfile: "Dockerfile", Labels: map[string]string{naming.LabelRole: naming.RoleProxy}}
	if err := e.BuildImage(ctx, spec, tar); err != nil {
		t.Fatal(err)
	}
	if err := e.PushImage(ctx, ref, auth); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	docker(t, "rmi", ref)

	// A luma that cannot be the proxy image: linked against libc; with
	// another proxy revision, so that setup must change luma-proxy (the
	// same revision would be left alone).
	dyn := filepath.Join(t.TempDir(), "luma")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/luma-deploy/luma/proxy.revisionOverride=97", "-o", dyn, "./cmd/luma")
	build.Dir = testenv.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a dynamically linked luma: %v\n%s", err, out)
	}
	if !dynamic(t, dyn) {
		t.Fatal("the cgo build of luma is not dynamically linked: the test proves nothing")
	}

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".luma"), 0o700)
	os.WriteFile(filepath.Join(dir, ".luma", "secrets"), []byte("REGISTRY_PASSWORD="+reg.Password+"\n"), 0o600)
	write := func(proxyImage string) {
		yml := fmt.Sprintf(`name: e2eproxyimg
proxy:
  http_port: %d
%sregistry:
  server: %s
  username: %s
  password: REGISTRY_PASSWORD
apps:
  web:
    image: luma-test-hello:v1
    servers: [localhost]
    proxy: {hosts: [proxyimg.test], app_port: 3000}
`, proxyPort, proxyImage, reg.Addr, reg.User)
		os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644)
	}
	t.Cleanup(func() {
		// Back to the proxy the other tests run: built from lumaBin (its
		// revision is the pulled image's, so setup alone would keep it).
		write("")
		testenv.DockerCLI(t, "", "rm", "-f", naming.ProxyContainer)
		testenv.Run(t, lumaBin, dir, "setup")
		testenv.DockerCLI(t, "", "rmi", "-f", ref)
		removeProject(t, "e2eproxyimg")
	})

	write("  image: " + ref + "\n")
	// With no luma-proxy, setup starts one from the pulled image.
	testenv.DockerCLI(t, "", "rm", "-f", naming.ProxyContainer)
	r := testenv.Run(t, dyn, dir, "setup")
	if r.Code != 0 || !strings.Contains(r.Stdout, "pulling "+ref) || !strings.Contains(r.Stdout, "dynamically linked") {
		t.Fatalf("setup with a dynamically linked luma:\n%s", r)
	}
	if strings.Contains(r.Stdout+r.Stderr, reg.Password) {
		t.Fatal("the registry password is in the output")
	}
	if got := docker(t, "inspect", "-f", "{{.Config.Image}} {{.State.Running}}", naming.ProxyContainer); got != ref+" true" {
		t.Fatalf("luma-proxy runs %q, want %s", got, ref+" true")
	}
	// With the proxy a normal luma set up, of another revision, setup
	// upgrades it in place with the image's binary (same container).
	testenv.DockerCLI(t, "", "rm", "-f", naming.ProxyContainer)
	testenv.Run(t, lumaBin, dir, "setup")
	id := docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer)
	docker(t, "rmi", ref)
	r = testenv.Run(t, dyn, dir, "setup")
	if r.Code != 0 || !strings.Contains(r.Stdout, "pulling "+ref) || !strings.Contains(r.Stdout, "Upgrading luma-proxy in place (revision") ||
		!strings.Contains(r.Stdout, "the one in "+ref) || !strings.Contains(r.Stdout, "luma-proxy upgraded to revision") {
		t.Fatalf("setup with a dynamically linked luma, a proxy running:\n%s", r)
	}
	if got := docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer); got != id {
		t.Fatal("luma-proxy's container was replaced, not upgraded in place")
	}
	if code, _, err := get("nowhere.test", "/"); err != nil || code != 404 {
		t.Fatalf("luma-proxy from the pulled image answers %d, %v; want 404 for an unknown host", code, err)
	}
}

// dynamic tells whether the ELF binary at path asks for a dynamic loader.
func dynamic(t *testing.T, path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return true
		}
	}
	return false
}
