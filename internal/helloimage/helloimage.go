// Package helloimage builds images of examples/hello at a given version,
// for the end-to-end tests and the benchmarks: a static binary FROM scratch,
// built through the Engine's build API (no registry is needed).
package helloimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
)

// Repo is the repository of the images Build makes.
const Repo = "luma-test-hello"

// Dir is examples/hello in this checkout.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "hello")
}

// Build compiles examples/hello with main.version set and builds
// luma-test-hello:<version> on e. labels are added to the image.
func Build(ctx context.Context, e drivers.Images, version string, labels map[string]string) (string, error) {
	tmp, err := os.MkdirTemp("", "luma-hello-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "hello")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, ".")
	cmd.Dir = Dir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build examples/hello: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	dockerfile, err := os.ReadFile(filepath.Join(Dir(), "Dockerfile"))
	if err != nil {
		return "", err
	}
	tar, err := docker.TarFiles(map[string][]byte{"Dockerfile": dockerfile, "hello": binary}, map[string]int64{"hello": 0o755})
	if err != nil {
		return "", err
	}
	ref := Repo + ":" + version
	if err := e.BuildImage(ctx, drivers.BuildSpec{Tag: ref, Labels: labels}, tar); err != nil {
		return "", fmt.Errorf("build %s: %w", ref, err)
	}
	return ref, nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
