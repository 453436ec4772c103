// Package e2e runs the real luma binary against the real Docker Engine, a
// real sshd on 127.0.0.1 and the real luma-proxy. These tests share the
// local engine's single luma-proxy, so they run one after another.
package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/luma-deploy/luma/internal/testenv"
)

// proxyPort is luma-proxy's port in these tests; the same as the example's,
// so running the tests after `make example` reuses its proxy.
const proxyPort = 8080

var lumaBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "luma-e2e-")
	if err != nil {
		panic(err)
	}
	if lumaBin, err = testenv.BuildLuma(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the luma binary.
type result = testenv.Result

// luma runs the binary in dir with NO_COLOR, as a user's terminal would
// without colors.
func luma(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return testenv.Run(t, lumaBin, dir, args...)
}

func mustLuma(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return testenv.MustRun(t, lumaBin, dir, args...)
}

var client = &http.Client{Timeout: 30 * time.Second}

// get asks luma-proxy on 127.0.0.1 for path on host.
func get(host, path string) (int, string, error) {
	return testenv.Get(context.Background(), client, fmt.Sprintf("127.0.0.1:%d", proxyPort), host, path)
}

// version asks the app behind host which version answers.
func version(t *testing.T, host string) map[string]string {
	t.Helper()
	code, body, err := get(host, "/version")
	if err != nil || code != 200 {
		t.Fatalf("GET /version on %s: %d %v %s", host, code, err, body)
	}
	v := map[string]string{}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode /version %q: %v", body, err)
	}
	return v
}

// docker runs the docker CLI, for assertions independent of luma's driver.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	return testenv.DockerCLI(t, "", args...)
}

// containers lists the names of a project's app containers, sorted.
func containers(t *testing.T, project, app string) []string {
	t.Helper()
	return testenv.ContainerNames(t, "", "luma.project="+project, "luma.app="+app)
}

// removeProject removes a project's containers and network after a test,
// leaving the shared luma-proxy in place.
func removeProject(t *testing.T, project string) {
	t.Cleanup(func() { testenv.RemoveProject("", project) })
}
