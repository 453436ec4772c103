package testenv

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Registry is a container registry with basic auth on 127.0.0.1 (the
// program in test/registry: go-containerregistry's registry, in memory).
// The Docker Engine treats 127.0.0.0/8 registries as insecure, so it
// pulls and pushes over plain HTTP with no daemon configuration.
type Registry struct {
	Addr     string // 127.0.0.1:PORT, the registry part of image refs
	User     string
	Password string
	cmd      *exec.Cmd
}

// buildRegistry builds test/registry (its own module, so its dependencies
// stay out of luma's go.mod) into dir.
func buildRegistry(dir string) (string, error) {
	bin := filepath.Join(dir, "luma-test-registry")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(RepoRoot(), "test", "registry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build test/registry: %v\n%s", err, out)
	}
	return bin, nil
}

// StartRegistry builds (into dir) and starts a registry on a free
// 127.0.0.1 port with a random password; Stop ends it. For TestMain;
// tests use NewRegistry.
func StartRegistry(dir string) (*Registry, error) {
	bin, err := buildRegistry(dir)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 12)
	rand.Read(b)
	r := &Registry{User: "luma", Password: hex.EncodeToString(b)}
	r.cmd = exec.Command(bin, "-addr", "127.0.0.1:0", "-user", r.User, "-password-env", "REGISTRY_PASSWORD")
	// The password goes through the environment, never argv.
	r.cmd.Env = append(os.Environ(), "REGISTRY_PASSWORD="+r.Password)
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start registry: %w", err)
	}
	// The program prints its address once it listens.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			addr <- strings.TrimSpace(sc.Text())
		}
		close(addr)
		for sc.Scan() {
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok || !strings.HasPrefix(a, "127.") {
			r.Stop()
			return nil, fmt.Errorf("registry did not say where it listens (%q)", a)
		}
		r.Addr = a
	case <-time.After(30 * time.Second):
		r.Stop()
		return nil, fmt.Errorf("registry did not start within 30s")
	}
	return r, nil
}

// Stop ends the registry and waits for it.
func (r *Registry) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// NewRegistry starts a registry for the test and stops it at cleanup.
// Skipped under -short: the tests that use it need the Docker Engine.
func NewRegistry(t testing.TB) *Registry {
	t.Helper()
	SkipShort(t, "a registry and the Docker Engine")
	r, err := StartRegistry(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(r.Stop)
	return r
}
