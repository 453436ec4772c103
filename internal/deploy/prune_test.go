package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
)

// loadYML writes yml (with a web/Dockerfile beside it) and loads it.
func loadYML(t *testing.T, yml string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "web"), 0o755)
	os.WriteFile(filepath.Join(dir, "web", "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644)
	cfg, err := config.Load(filepath.Join(dir, "luma.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const pruneYML = `name: shop
keep_releases: 2
apps:
  web:
    image: registry.example.com/acme/web:1.4
    build:
      context: ./web
    servers: [server1]
    health_check: {start_period: 1ms, interval: 1ms}
  worker:
    image: worker:1.0
    servers: [server1]
    health_check: {start_period: 1ms, interval: 1ms}
`

// image with build: the build is tagged <repository>:<release> and with
// the image's own tag; the release tag is what runs.
func TestBuildWithImage(t *testing.T) {
	cfg := loadYML(t, pruneYML)
	local, server := fake.NewHost("local"), fake.NewHost("server1")
	local.AddImage("worker:1.0")
	out := &printer{}
	opts := options(t, cfg, local, server, out)
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("run: %v\n%s", err, strings.Join(out.lines, "\n"))
	}
	want := "Building registry.example.com/acme/web:r1, registry.example.com/acme/web:1.4 from " + filepath.Join(cfg.Dir, "web") + "..."
	if !slices.Contains(out.lines, want) {
		t.Errorf("lines lack %q:\n%s", want, strings.Join(out.lines, "\n"))
	}
	rel, _ := local.ImageID(context.Background(), "registry.example.com/acme/web:r1")
	named, _ := local.ImageID(context.Background(), "registry.example.com/acme/web:1.4")
	if rel == "" || rel != named {
		t.Errorf("local image IDs: release tag %q, image tag %q; want one image", rel, named)
	}
	c, err := server.Inspect(context.Background(), "shop-web-blue")
	if err != nil || c.Image != "registry.example.com/acme/web:r1" {
		t.Fatalf("web-blue runs %q (%v), want the release tag", c.Image, err)
	}
}

func TestBuildTags(t *testing.T) {
	for _, tt := range []struct {
		image, tag string
		extra      []string
	}{
		{"", "shop-web:r7", nil},
		{"acme/web", "acme/web:r7", nil},
		{"acme/web:latest", "acme/web:r7", []string{"acme/web:latest"}},
		{"acme/web:r7", "acme/web:r7", nil},
		{"docker.io/library/web:1", "web:r7", []string{"docker.io/library/web:1"}},
		{"127.0.0.1:5000/team/web:1.4", "127.0.0.1:5000/team/web:r7", []string{"127.0.0.1:5000/team/web:1.4"}},
	} {
		tag, extra, err := BuildTags("shop", &config.App{Name: "web", Image: tt.image, Build: &config.Build{}}, "r7")
		if err != nil || tag != tt.tag || !slices.Equal(extra, tt.extra) {
			t.Errorf("image %q: %q %v %v, want %q %v", tt.image, tag, extra, err, tt.tag, tt.extra)
		}
	}
}

// After each successful deploy the server and the local engine keep the
// images of the newest keep_releases releases; what runs is never
// removed, images of apps Luma did not build are never looked at.
func TestDeployPrunesOldReleases(t *testing.T) {
	cfg := loadYML(t, pruneYML)
	local, server := fake.NewHost("local"), fake.NewHost("server1")
	local.AddImage("worker:1.0")
	var lines []string
	for i := 1; i <= 4; i++ {
		local.Clock().Advance(time.Minute)
		out := &printer{}
		opts := options(t, cfg, local, server, out)
		opts.Release = fmt.Sprintf("r%d", i)
		if _, err := Run(context.Background(), opts); err != nil {
			t.Fatalf("deploy r%d: %v\n%s", i, err, strings.Join(out.lines, "\n"))
		}
		for _, l := range out.lines {
			if strings.Contains(l, "Removed") || strings.Contains(l, "Warning") {
				lines = append(lines, fmt.Sprintf("r%d %s", i, l))
			}
		}
	}
	want := []string{
		"r3 [server1] Removed 1 old image of web (10 MB freed)",
		"r3 [local] Removed 1 old image of web (10 MB freed)",
		"r4 [server1] Removed 1 old image of web (10 MB freed)",
		"r4 [local] Removed 1 old image of web (10 MB freed)",
	}
	slices.Sort(lines)
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Errorf("prune lines:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, h := range []*fake.Host{server, local} {
		var left []string
		for _, r := range []string{"r1", "r2", "r3", "r4", "1.4"} {
			if ok, _ := h.HasImage(context.Background(), "registry.example.com/acme/web:"+r); ok {
				left = append(left, r)
			}
		}
		if !slices.Equal(left, []string{"r3", "r4", "1.4"}) && !(h == server && slices.Equal(left, []string{"r3", "r4"})) {
			t.Errorf("%s has %v", h.Name(), left)
		}
		if ok, _ := h.HasImage(context.Background(), "worker:1.0"); !ok {
			t.Errorf("%s lost worker:1.0, which Luma did not build", h.Name())
		}
	}
}

// A pruning failure is a warning: the deploy succeeded and says so.
func TestPruneFailureIsAWarning(t *testing.T) {
	cfg := loadYML(t, pruneYML)
	local, server := fake.NewHost("local"), fake.NewHost("server1")
	local.AddImage("worker:1.0")
	server.Inject(fake.Fault{Op: "ListImages"})
	out := &printer{}
	opts := options(t, cfg, local, server, out)
	res, err := Run(context.Background(), opts)
	if err != nil || len(res) != 2 {
		t.Fatalf("deploy failed for a pruning failure: %v", err)
	}
	want := "[server1] Warning: could not remove every old image of web: injected fault"
	if !slices.Contains(out.lines, want) {
		t.Errorf("lines lack %q:\n%s", want, strings.Join(out.lines, "\n"))
	}
}

// When the local engine is the server, it is pruned once, as the server
// (its deploy record protects the releases a rollback needs).
func TestLocalEngineIsTheServer(t *testing.T) {
	cfg := loadYML(t, strings.Replace(pruneYML, "keep_releases: 2", "keep_releases: 1", 1))
	server := fake.NewHost("server1")
	server.AddImage("worker:1.0")
	for i := 1; i <= 3; i++ {
		server.Clock().Advance(time.Minute)
		out := &printer{}
		opts := options(t, cfg, server, server, out)
		opts.Release = fmt.Sprintf("r%d", i)
		if _, err := Run(context.Background(), opts); err != nil {
			t.Fatal(err)
		}
		var removed []string
		for _, l := range out.lines {
			if strings.Contains(l, "Removed") {
				removed = append(removed, l)
			}
		}
		if i == 3 && !slices.Equal(removed, []string{"[server1] Removed 1 old image of web (10 MB freed)"}) {
			t.Errorf("deploy r%d pruning lines %q", i, removed)
		}
	}
}
