// Package e2e runs the real luma binary against the real Docker Engine, a
// real sshd on 127.0.0.1 and the real luma-proxy. These tests share the
// local engine's single luma-proxy, so they run one after another.
package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
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
	lumaBin = filepath.Join(dir, "luma")
	build := exec.Command("go", "build", "-o", lumaBin, "./cmd/luma")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build luma: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// result is one run of the luma binary.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// luma runs the binary in dir with NO_COLOR, as a user's terminal would
// without colors.
func luma(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(lumaBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run luma %v: %v", args, err)
	}
	t.Logf("luma %s → exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

func mustLuma(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := luma(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("luma %v failed:\n%s", args, r)
	}
	return r
}

// get asks luma-proxy on 127.0.0.1 for path on host.
func get(host, path string) (int, string, error) {
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", proxyPort, path), nil)
	req.Host = host
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
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
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// containers lists the names of a project's app containers, sorted.
func containers(t *testing.T, project, app string) []string {
	t.Helper()
	out := docker(t, "ps", "-a", "--filter", "label=luma.project="+project, "--filter", "label=luma.app="+app, "--format", "{{.Names}}")
	if out == "" {
		return nil
	}
	names := strings.Split(out, "\n")
	sort.Strings(names)
	return names
}

// removeProject removes a project's containers and network after a test,
// leaving the shared luma-proxy in place.
func removeProject(t *testing.T, project string) {
	t.Cleanup(func() {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=luma.project="+project).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
		exec.Command("docker", "network", "disconnect", "-f", project+"-network", "luma-proxy").Run()
		exec.Command("docker", "network", "rm", project+"-network").Run()
	})
}
