package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/testenv"
)

// TestUpgradeUnderLoad is a luma upgrade as a team does one: `luma setup`
// with a luma whose proxy code differs, while the app takes constant-rate
// mixed traffic (keep-alive and fresh connections, 8 and 64 KiB POSTs
// sized and chunked, downloads, slow requests), then back, four times:
// luma-proxy is upgraded in place and no request fails
// (bench/zerodowntime exits non-zero on any). A dry run first says what
// would happen and changes nothing.
func TestUpgradeUnderLoad(t *testing.T) {
	dir := t.TempDir()
	other, err := testenv.BuildLumaRevision(dir, 9000)
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	bin := filepath.Join(dir, "zdt")
	build := exec.Command("go", "build", "-o", bin, "./bench/zerodowntime")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bench: %v\n%s", err, out)
	}

	// The dry run, on a project with the shared proxy set up by lumaBin.
	proj := t.TempDir()
	os.WriteFile(filepath.Join(proj, "luma.yml"), []byte(fmt.Sprintf(`name: e2eupgdry
proxy: {http_port: %d}
apps:
  web:
    image: %s
    servers: [localhost]
    proxy: {hosts: [upgdry.test], app_port: 3000}
`, proxyPort, v1)), 0o644)
	mustLuma(t, proj, "setup")
	before := docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer)
	r := testenv.Run(t, other, proj, "setup", "--dry-run")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Would upgrade luma-proxy in place (revision") || !strings.Contains(r.Stdout, "→ 9000)") {
		t.Fatalf("dry run:\n%s", r)
	}
	if docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer) != before {
		t.Fatal("the dry run replaced luma-proxy")
	}

	const project = "e2eupg"
	removeProject(t, project)
	t.Cleanup(func() { testenv.Run(t, lumaBin, proj, "setup", "--allow-downgrade") }) // back to the other tests' revision
	cmd := exec.Command(bin, "-luma", lumaBin, "-upgrade-luma", other, "-images", v1+","+v2, "-project", project,
		"-deploys", "4", "-rate", "200", "-baseline", "0", "-bursts", "0", "-slow-ms", "1500",
		"-port", fmt.Sprint(proxyPort), "-mix", "get,fresh,post-8k,post-64k,download,slow", "-app-keepalive", "1s")
	cmd.Env = os.Environ()
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("requests failed during luma upgrades (or a setup failed): %v", err)
	}
	if docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer) != before {
		t.Error("luma-proxy's container was replaced: the upgrades were not in place")
	}
}
