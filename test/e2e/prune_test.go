package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestPrune deploys three releases of an app built by luma (image and
// build together) with keep_releases 2: after the third, exactly the
// images of the last two remain on the engine, the hello base image and
// other projects' images untouched; `luma prune` then finds nothing.
func TestPrune(t *testing.T) {
	const project, name = "e2eprune", "webprune"
	base := testenv.BuildHello(t, "prune")
	dir := t.TempDir()
	removeImages(project) // left by an earlier run that was killed
	// Cleanups run last first: containers go, then the images they used.
	t.Cleanup(func() { removeImages(project) })
	removeProject(t, project)
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "web", "Dockerfile"), []byte("FROM "+base+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yml := fmt.Sprintf(`name: %s
proxy:
  http_port: %d
keep_releases: 2
apps:
  %s:
    image: %s/%s:latest
    build:
      context: ./web
    servers: [localhost]
    proxy:
      hosts: [%s.test]
      app_port: 3000
    health_check: {start_period: 2s, interval: 200ms, timeout: 2s}
    drain_timeout: 0s
    stop_timeout: 2s
`, project, proxyPort, name, project, name, project)
	if err := os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	mustLuma(t, dir, "setup")
	repo := project + "/" + name
	for i := 1; i <= 3; i++ {
		r := mustLuma(t, dir, "deploy", "--release", fmt.Sprintf("r%d", i))
		removed := strings.Contains(r.Stdout, "[localhost] Removed 1 old image of "+name+" (")
		if removed != (i == 3) {
			t.Errorf("deploy r%d: pruning line present = %v\n%s", i, removed, r.Stdout)
		}
		// A release is the base's layers and labels: removing r1 frees no
		// layer, the base image and r2, r3 hold them all.
		if i == 3 && !strings.Contains(r.Stdout, "[localhost] Removed 1 old image of "+name+" (0 MB freed)") {
			t.Errorf("deploy r3 claims to free bytes of layers that stay:\n%s", r.Stdout)
		}
	}
	want := []string{repo + ":latest", repo + ":r2", repo + ":r3"}
	if got := projectImages(t, project); !slices.Equal(got, want) {
		t.Fatalf("images after 3 releases = %v, want %v", got, want)
	}
	if v := version(t, project+".test"); v["release"] != "r3" {
		t.Errorf("serving %v, want r3", v)
	}
	if ok := docker(t, "images", "-q", base); ok == "" {
		t.Errorf("the base image %s was removed", base)
	}

	r := mustLuma(t, dir, "prune", "--json")
	var rep struct {
		OK      bool
		Results []struct {
			Server, App  string
			Removed      []any
			KeptReleases []string `json:"kept_releases"`
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || !rep.OK || len(rep.Results) != 1 {
		t.Fatalf("prune --json: %v\n%s", err, r)
	}
	if res := rep.Results[0]; res.Server != "localhost" || len(res.Removed) != 0 || !slices.Equal(res.KeptReleases, []string{"r3", "r2"}) {
		t.Errorf("prune result %+v", res)
	}
	if !strings.Contains(r.Stderr, "[localhost] Nothing to remove for "+name+" (releases kept: r3, r2)") {
		t.Errorf("prune progress:\n%s", r.Stderr)
	}
	if got := projectImages(t, project); !slices.Equal(got, want) {
		t.Errorf("images after luma prune = %v, want %v", got, want)
	}
}

// projectImages lists, sorted, the repo:tag references of a project's images.
func projectImages(t *testing.T, project string) []string {
	t.Helper()
	out := docker(t, "images", "--filter", "label=luma.project="+project, "--format", "{{.Repository}}:{{.Tag}}")
	if out == "" {
		return nil
	}
	refs := strings.Split(out, "\n")
	slices.Sort(refs)
	return refs
}

// removeImages removes the images a test's deploys built for project.
func removeImages(project string) {
	out, _ := exec.Command("docker", "images", "-q", "--filter", "label=luma.project="+project).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", append([]string{"rmi", "-f"}, ids...)...).Run()
	}
}
