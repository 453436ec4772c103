// Package multiserver runs the real luma binary against three real servers
// on this machine, each with its own Docker Engine and sshd in its own
// network namespace (test/servers). The tests talk only to 127.0.0.1 and to
// those namespaces' addresses.
package multiserver

import (
	"bufio"
	"bytes"
	"context"
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

// proxyPort is luma-proxy's port on every test server.
const proxyPort = 8080

var (
	lumaBin string
	env     map[string]string // what `test/servers env` prints
	servers []string          // the servers' addresses, 1..3
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() { // `make unit`: no Docker, no namespaces
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	script := filepath.Join(repoRoot(), "test", "servers")
	down := func() {
		if out, err := exec.Command(script, "down").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "test/servers down: %v\n%s", err, out)
		}
	}
	// Cannot build the servers: fail with the reason, never skip.
	if out, err := exec.Command(script, "up", "3").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: test/servers up 3: %v\n%s", err, out)
		down()
		return 1
	}
	defer down()
	out, err := exec.Command(script, "env").Output()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: test/servers env: %v\n", err)
		return 1
	}
	env = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	servers = strings.Fields(env["LUMA_SERVERS"])
	if len(servers) != 3 {
		fmt.Fprintf(os.Stderr, "FAIL: test/servers env lists %v, want 3 servers\n", servers)
		return 1
	}

	dir, err := os.MkdirTemp("", "luma-multiserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	lumaBin = filepath.Join(dir, "luma")
	build := exec.Command("go", "build", "-o", lumaBin, "./cmd/luma")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: build luma: %v\n%s", err, out)
		return 1
	}
	return m.Run()
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

// luma runs the binary in dir without colors.
func luma(t testing.TB, dir string, args ...string) result {
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

func mustLuma(t testing.TB, dir string, args ...string) result {
	t.Helper()
	r := luma(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("luma %v failed:\n%s", args, r)
	}
	return r
}

// project is one test's luma.yml on some of the servers. Its app is named
// after it: container names ({app}-{color}-N) are per engine, not per project.
type project struct {
	name, app string
	dir       string
	servers   []string
	hosts     []string
}

func newProject(t *testing.T, name string) *project {
	p := &project{name: name, app: name, dir: t.TempDir(), servers: servers, hosts: []string{name + ".test"}}
	t.Cleanup(func() { p.remove() })
	return p
}

// write writes luma.yml for image with extra plain environment.
func (p *project) write(t testing.TB, image string, envs ...string) {
	t.Helper()
	q := func(xs []string) string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = fmt.Sprintf("%q", x)
		}
		return strings.Join(out, ", ")
	}
	yml := fmt.Sprintf(`name: %s
ssh:
  user: root
  key: %s
  known_hosts: %s
proxy:
  http_port: %d
apps:
  %s:
    image: %s
    servers: [%s]
    replicas: 2
    environment:
      plain: [%s]
    proxy:
      hosts: [%s]
      app_port: 3000
    health_check:
      start_period: 5s
      interval: 500ms
      timeout: 2s
      retries: 2
    drain_timeout: 10s
    stop_timeout: 10s
`, p.name, env["LUMA_SSH_KEY"], env["LUMA_KNOWN_HOSTS"], proxyPort, p.app, image, q(p.servers), q(envs), q(p.hosts))
	if err := os.WriteFile(filepath.Join(p.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// remove deletes the project's containers and network on every server,
// leaving the servers' luma-proxy in place.
func (p *project) remove() {
	for i := range servers {
		h := dockerHost(i)
		out, _ := exec.Command("docker", "-H", h, "ps", "-aq", "--filter", "label=luma.project="+p.name).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("docker", append([]string{"-H", h, "rm", "-f"}, ids...)...).Run()
		}
		exec.Command("docker", "-H", h, "network", "disconnect", "-f", p.name+"-network", "luma-proxy").Run()
		exec.Command("docker", "-H", h, "network", "rm", p.name+"-network").Run()
	}
}

// dockerHost is server i's engine socket (i from 0), for assertions that do
// not go through luma.
func dockerHost(i int) string { return env[fmt.Sprintf("LUMA_SERVER_%d_DOCKER_HOST", i+1)] }

// docker runs the docker CLI against server i's engine.
func docker(t testing.TB, i int, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", append([]string{"-H", dockerHost(i)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker on %s %v: %v\n%s", servers[i], args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// containers lists the names of the project's containers on server i.
func (p *project) containers(t testing.TB, i int) []string {
	t.Helper()
	out := docker(t, i, "ps", "-a", "--filter", "label=luma.project="+p.name, "--format", "{{.Names}}")
	if out == "" {
		return nil
	}
	names := strings.Split(out, "\n")
	sort.Strings(names)
	return names
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// get asks server i's luma-proxy for path on host.
func get(ctx context.Context, i int, host, path string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s:%d%s", servers[i], proxyPort, path), nil)
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// version asks the app behind host on server i which version answers.
func version(t testing.TB, i int, host string) map[string]string {
	t.Helper()
	code, body, err := get(context.Background(), i, host, "/version")
	if err != nil || code != 200 {
		t.Fatalf("[%s] GET /version on %s: %d %v %s", servers[i], host, code, err, body)
	}
	v := map[string]string{}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("decode /version %q: %v", body, err)
	}
	return v
}

// statusDoc is `luma status --json`.
type statusDoc struct {
	Apps []struct {
		App, Status, Active, Release string
		Running, Desired             int
		Advice                       []string
		Servers                      []struct {
			Name, State, Active, Release string
			Running                      int
			Targets                      []string
			Unreachable                  string
		}
	}
}

func (p *project) status(t testing.TB) statusDoc {
	t.Helper()
	r := mustLuma(t, p.dir, "status", "--json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Apps) != 1 {
		t.Fatalf("status --json: %v\n%s", err, r.stdout)
	}
	return doc
}

// assertServing checks on every server: exactly the color's two containers
// exist, the proxy serves them (version, color, release), every record is
// idle, and status says RUNNING.
func (p *project) assertServing(t testing.TB, color, ver, rel string) {
	t.Helper()
	want := p.app + "-" + color + "-1," + p.app + "-" + color + "-2"
	for i, s := range p.servers {
		if got := strings.Join(p.containers(t, i), ","); got != want {
			t.Errorf("[%s] containers = %s, want %s", s, got, want)
		}
		for range 4 {
			v := version(t, i, p.hosts[0])
			if v["version"] != ver || v["color"] != color || v["release"] != rel {
				t.Errorf("[%s] proxy served %v, want version %s color %s release %s", s, v, ver, color, rel)
				break
			}
		}
	}
	doc := p.status(t)
	a := doc.Apps[0]
	if a.Status != "RUNNING" || a.Active != color || a.Release != rel || a.Running != 2*len(p.servers) {
		t.Errorf("status = %+v, want RUNNING %s %s with %d running", a, color, rel, 2*len(p.servers))
	}
	for _, s := range a.Servers {
		if s.State != "idle" || s.Active != color || s.Release != rel || len(s.Targets) != 2 {
			t.Errorf("status of %s = %+v, want idle %s %s with 2 targets", s.Name, s, color, rel)
		}
	}
}

// assertReadable checks that output lines never interleave: a server
// prefix opens a line, or follows a space (an error from another server
// quoted in a reason), never glued to another line's text.
func assertReadable(t testing.TB, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		for i := strings.Index(line, "[10.231."); i >= 0; {
			if i > 0 && line[i-1] != ' ' {
				t.Errorf("interleaved output line %q", line)
				break
			}
			j := strings.Index(line[i+1:], "[10.231.")
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
}
