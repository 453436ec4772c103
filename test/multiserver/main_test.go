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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/internal/testenv"
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
	script := filepath.Join(testenv.RepoRoot(), "test", "servers")
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
	if lumaBin, err = testenv.BuildLuma(dir); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v", err)
		return 1
	}
	return m.Run()
}

// result is one run of the luma binary.
type result = testenv.Result

// luma runs the binary in dir without colors.
func luma(t testing.TB, dir string, args ...string) result {
	t.Helper()
	return testenv.Run(t, lumaBin, dir, args...)
}

func mustLuma(t testing.TB, dir string, args ...string) result {
	t.Helper()
	return testenv.MustRun(t, lumaBin, dir, args...)
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
	q := testenv.Quote
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
		testenv.RemoveProject(dockerHost(i), p.name)
	}
}

// dockerHost is server i's engine socket (i from 0), for assertions that do
// not go through luma.
func dockerHost(i int) string { return env[fmt.Sprintf("LUMA_SERVER_%d_DOCKER_HOST", i+1)] }

// docker runs the docker CLI against server i's engine.
func docker(t testing.TB, i int, args ...string) string {
	t.Helper()
	return testenv.DockerCLI(t, dockerHost(i), args...)
}

// containers lists the names of the project's containers on server i.
func (p *project) containers(t testing.TB, i int) []string {
	t.Helper()
	return testenv.ContainerNames(t, dockerHost(i), "luma.project="+p.name)
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// get asks server i's luma-proxy for path on host.
func get(ctx context.Context, i int, host, path string) (int, string, error) {
	return testenv.Get(ctx, client, fmt.Sprintf("%s:%d", servers[i], proxyPort), host, path)
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
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Apps) != 1 {
		t.Fatalf("status --json: %v\n%s", err, r.Stdout)
	}
	return doc
}

// assertServing checks on every server: exactly the color's two containers
// exist, the proxy serves them (version, color, release), every record is
// idle, and status says RUNNING.
func (p *project) assertServing(t testing.TB, color, ver, rel string) {
	t.Helper()
	want := p.name + "-" + p.app + "-" + color + "-1," + p.name + "-" + p.app + "-" + color + "-2"
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
