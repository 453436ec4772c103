package setup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The release configuration publishes what setup relies on: static luma
// binaries for Linux and macOS on both CPUs, and a multi-arch luma-proxy
// image under the name PublishedProxyImage gives, built from the same
// Dockerfile setup uses on servers.
func TestReleaseConfigPublishesTheProxyImage(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, ".goreleaser.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			Main    string   `yaml:"main"`
			Env     []string `yaml:"env"`
			Ldflags []string `yaml:"ldflags"`
			Goos    []string `yaml:"goos"`
			Goarch  []string `yaml:"goarch"`
		} `yaml:"builds"`
		Checksum map[string]any `yaml:"checksum"`
		Dockers  []struct {
			Goos       string   `yaml:"goos"`
			Goarch     string   `yaml:"goarch"`
			Dockerfile string   `yaml:"dockerfile"`
			Images     []string `yaml:"image_templates"`
		} `yaml:"dockers"`
		Manifests []struct {
			Name   string   `yaml:"name_template"`
			Images []string `yaml:"image_templates"`
		} `yaml:"docker_manifests"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf("builds: %+v", cfg.Builds)
	}
	build := cfg.Builds[0]
	if build.Main != "./cmd/luma" || !slices.Contains(build.Env, "CGO_ENABLED=0") ||
		!strings.Contains(strings.Join(build.Ldflags, " "), "-X main.buildVersion={{ .Version }}") {
		t.Errorf("build %+v: want ./cmd/luma, static, with main.buildVersion", build)
	}
	for _, want := range []string{"linux", "darwin"} {
		if !slices.Contains(build.Goos, want) {
			t.Errorf("no %s build", want)
		}
	}
	for _, want := range []string{"amd64", "arm64"} {
		if !slices.Contains(build.Goarch, want) {
			t.Errorf("no %s build", want)
		}
	}
	if cfg.Checksum == nil {
		t.Error("no checksums")
	}
	repo := strings.TrimSuffix(PublishedProxyImage("1.0.0"), ":1.0.0")
	if len(cfg.Manifests) != 1 || cfg.Manifests[0].Name != repo+":{{ .Version }}" || len(cfg.Manifests[0].Images) != 2 {
		t.Fatalf("docker_manifests %+v, want %s:{{ .Version }} of two images", cfg.Manifests, repo)
	}
	arches := map[string]bool{}
	for _, d := range cfg.Dockers {
		arches[d.Goarch] = d.Goos == "linux" && slices.Contains(cfg.Manifests[0].Images, d.Images[0]) && strings.HasPrefix(d.Images[0], repo+":")
		df, err := os.ReadFile(filepath.Join(root, d.Dockerfile))
		if err != nil || string(df) != proxyDockerfile {
			t.Errorf("%s: the published image's Dockerfile differs from the one setup builds (%v)", d.Dockerfile, err)
		}
	}
	if !arches["amd64"] || !arches["arm64"] {
		t.Errorf("luma-proxy images: %v, want linux amd64 and arm64 in the manifest", arches)
	}
}
