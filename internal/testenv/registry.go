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
	bin      string
	forwards []*exec.Cmd // ServeNamespaces' forwarders
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
// 127.0.0.1 port with a random password, also listening on the same port
// of each IP in also (the host's ends of test servers' links, for
// ServeNamespaces); Stop ends it. For TestMain; tests use NewRegistry.
func StartRegistry(dir string, also ...string) (*Registry, error) {
	bin, err := buildRegistry(dir)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 12)
	rand.Read(b)
	r := &Registry{User: "luma", Password: hex.EncodeToString(b), bin: bin}
	args := []string{"-addr", "127.0.0.1:0", "-user", r.User, "-password-env", "REGISTRY_PASSWORD"}
	for _, ip := range also {
		args = append(args, "-also", ip)
	}
	r.cmd = exec.Command(bin, args...)
	// The password goes through the environment, never argv.
	r.cmd.Env = append(os.Environ(), "REGISTRY_PASSWORD="+r.Password)
	a, err := startPrinting(r.cmd)
	if err != nil {
		r.Stop()
		return nil, fmt.Errorf("registry: %w", err)
	}
	r.Addr = a
	return r, nil
}

// startPrinting starts cmd and returns the first line it prints: the
// test registry prints its address once it listens.
func startPrinting(cmd *exec.Cmd) (string, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	stderr := &Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
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
			cmd.Process.Kill()
			cmd.Wait()
			return "", fmt.Errorf("did not say where it listens (%q): %s", a, stderr.String())
		}
		return a, nil
	case <-time.After(30 * time.Second):
		return "", fmt.Errorf("did not listen within 30s")
	}
}

// Stop ends the registry and its forwarders and waits for them.
func (r *Registry) Stop() {
	for _, c := range append(r.forwards, r.cmd) {
		if c != nil && c.Process != nil {
			c.Process.Kill()
			c.Wait()
		}
	}
	r.forwards = nil
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
