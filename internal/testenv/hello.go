package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
)

// HelloImage is the repository of the test images BuildHello makes.
const HelloImage = "luma-test-hello"

var (
	helloMu    sync.Mutex
	helloBuilt = map[string]string{}
)

// BuildHello compiles examples/hello as a static binary with main.version
// set to version and builds the image luma-test-hello:<version> from it on
// the local Engine. Built once per version per test process.
func BuildHello(t testing.TB, version string) string {
	t.Helper()
	helloMu.Lock()
	defer helloMu.Unlock()
	if ref, ok := helloBuilt[version]; ok {
		return ref
	}
	dir := HelloDir(t)
	bin := filepath.Join(t.TempDir(), "hello")
	cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testenv: go build examples/hello: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	tar, err := docker.TarFiles(map[string][]byte{"Dockerfile": dockerfile, "hello": binary}, map[string]int64{"hello": 0o755})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	ref := HelloImage + ":" + version
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Docker(t).BuildImage(ctx, drivers.BuildSpec{Tag: ref, Labels: map[string]string{TestLabel: "hello"}}, tar); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	helloBuilt[version] = ref
	return ref
}

// HelloDir is the directory of examples/hello in this checkout.
func HelloDir(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testenv: cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "hello")
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
