package testenv

import (
	"bytes"
	"context"
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

	"github.com/luma-deploy/luma/internal/naming"
)

// RepoRoot is the root of this checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildLuma builds the luma binary, static (CGO_ENABLED=0) as on a server,
// into dir and returns its path.
func BuildLuma(dir string) (string, error) {
	return buildLuma(filepath.Join(dir, "luma"))
}

// BuildLumaRevision builds luma as BuildLuma does, but with another
// luma-proxy revision (proxy.revisionOverride), so that luma setup with
// it upgrades luma-proxy, and setup with the normal build upgrades it
// back: a luma upgrade, as a test can make one.
func BuildLumaRevision(dir string, revision int) (string, error) {
	return buildLuma(filepath.Join(dir, fmt.Sprintf("luma-r%d", revision)),
		"-ldflags", fmt.Sprintf("-X github.com/luma-deploy/luma/proxy.revisionOverride=%d", revision))
}

func buildLuma(bin string, flags ...string) (string, error) {
	build := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, "./cmd/luma")...)
	build.Dir = RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build luma: %v\n%s", err, out)
	}
	return bin, nil
}

// Result is one run of a binary.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin in dir with NO_COLOR, as a user's terminal would without
// colors, and logs what it printed. A non-zero exit is a Result, not a
// failure; not being able to run bin fails the test.
func Run(t testing.TB, bin, dir string, args ...string) Result {
	t.Helper()
	name := filepath.Base(bin)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	t.Logf("%s %s → exit %d\n%s%s", name, strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	return r
}

// MustRun is Run that fails the test on a non-zero exit.
func MustRun(t testing.TB, bin, dir string, args ...string) Result {
	t.Helper()
	r := Run(t, bin, dir, args...)
	if r.Code != 0 {
		t.Fatalf("%s %v failed:\n%s", filepath.Base(bin), args, r)
	}
	return r
}

// hostArgs prepends -H host to a docker command line, unless host is empty
// (the local Engine, or DOCKER_HOST).
func hostArgs(host string, args ...string) []string {
	if host == "" {
		return args
	}
	return append([]string{"-H", host}, args...)
}

// DockerCLI runs the docker CLI against host (empty: the local Engine), for
// assertions independent of luma's driver, and returns its trimmed output.
func DockerCLI(t testing.TB, host string, args ...string) string {
	t.Helper()
	argv := hostArgs(host, args...)
	out, err := exec.Command("docker", argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", argv, err, out)
	}
	return strings.TrimSpace(string(out))
}

// ContainerNames lists, sorted, the names of the containers on host that
// carry every label given as key=value.
func ContainerNames(t testing.TB, host string, labels ...string) []string {
	t.Helper()
	args := []string{"ps", "-a"}
	for _, l := range labels {
		args = append(args, "--filter", "label="+l)
	}
	out := DockerCLI(t, host, append(args, "--format", "{{.Names}}")...)
	if out == "" {
		return nil
	}
	names := strings.Split(out, "\n")
	sort.Strings(names)
	return names
}

// RemoveProject removes a luma project's containers and network on host,
// leaving the shared luma-proxy in place. Best effort: it runs at cleanup.
func RemoveProject(host, project string) {
	out, _ := exec.Command("docker", hostArgs(host, "ps", "-aq", "--filter", "label=luma.project="+project)...).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		exec.Command("docker", hostArgs(host, append([]string{"rm", "-f"}, ids...)...)...).Run()
	}
	exec.Command("docker", hostArgs(host, "network", "disconnect", "-f", naming.Network(project), naming.ProxyContainer)...).Run()
	exec.Command("docker", hostArgs(host, "network", "rm", naming.Network(project))...).Run()
}

// Quote writes list as the items of a YAML flow sequence: "a", "b".
func Quote(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Get asks the proxy at addr (host:port) for path with the Host header
// host, and returns the status code and body.
func Get(ctx context.Context, c *http.Client, addr, host, path string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+path, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
