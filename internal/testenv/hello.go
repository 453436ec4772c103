package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/internal/helloimage"
)

// HelloImage is the repository of the test images BuildHello makes.
const HelloImage = helloimage.Repo

var (
	helloMu    sync.Mutex
	helloBuilt = map[string]string{}
)

// BuildHello compiles examples/hello as a static binary with main.version
// set to version and builds the image luma-test-hello:<version> from it on
// the local Engine. Built once per version per test process.
func BuildHello(t testing.TB, version string) string {
	t.Helper()
	SkipShort(t, "the Docker Engine")
	helloMu.Lock()
	defer helloMu.Unlock()
	if ref, ok := helloBuilt[version]; ok {
		return ref
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref, err := helloimage.Build(ctx, Docker(t), version, map[string]string{TestLabel: "hello"})
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	helloBuilt[version] = ref
	return ref
}

// HelloDir is the directory of examples/hello in this checkout.
func HelloDir(t testing.TB) string { return helloimage.Dir() }
