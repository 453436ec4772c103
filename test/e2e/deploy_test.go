package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/luma-deploy/luma/internal/testenv"
)

// app is one end-to-end deploy scenario's project.
type app struct {
	project, name, server, ssh string
	dir                        string
}

func (a app) host() string { return a.project + ".test" }

// write writes luma.yml for image with extra plain environment.
func (a app) write(t *testing.T, image string, env ...string) {
	t.Helper()
	yml := fmt.Sprintf(`name: %s
%s
proxy:
  http_port: %d
apps:
  %s:
    image: %s
    servers: [%q]
    replicas: 2
    environment:
      plain: [%s]
    proxy:
      hosts: [%q]
      app_port: 3000
    health_check:
      start_period: 2s
      interval: 500ms
      timeout: 2s
      retries: 2
    drain_timeout: 10s
    stop_timeout: 10s
`, a.project, a.ssh, proxyPort, a.name, image, a.server, quote(env), a.host())
	if err := os.WriteFile(filepath.Join(a.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDeployLocal(t *testing.T) {
	a := app{project: "e2elocal", name: "weblocal", server: "localhost", dir: t.TempDir()}
	blueGreen(t, a)
}

func TestDeployOverSSH(t *testing.T) {
	s := testenv.SSHD(t)
	a := app{
		project: "e2essh", name: "webssh", dir: t.TempDir(),
		server: fmt.Sprintf("%s@%s:%d", s.User, s.Host, s.Port),
		ssh:    fmt.Sprintf("ssh:\n  key: %s\n  known_hosts: %s", s.KeyFile, s.KnownHosts),
	}
	blueGreen(t, a)
}

// blueGreen deploys v1, v2 with a request in flight across the switch, then
// a broken v3, checking names, labels, aliases, routing and status.
func blueGreen(t *testing.T, a app) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	removeProject(t, a.project)
	a.write(t, v1)
	mustLuma(t, a.dir, "setup")

	r := mustLuma(t, a.dir, "deploy", "--release", "r1")
	for _, line := range []string{
		fmt.Sprintf("[%s] Deploying %s (2 replicas)...", a.server, a.name),
		fmt.Sprintf("[%s] Deploying 2 replica(s): %s-%s-blue-1, %s-%s-blue-2", a.server, a.project, a.name, a.project, a.name),
		fmt.Sprintf("[%s] All 2 containers passed health checks ✓", a.server),
		fmt.Sprintf("[%s] Switching traffic to blue containers...", a.server),
		fmt.Sprintf("[%s] Blue-green deployment completed successfully ✅", a.server),
	} {
		if !strings.Contains(r.Stdout, line+"\n") {
			t.Errorf("deploy output lacks %q", line)
		}
	}
	assertServing(t, a, "blue", "v1", "r1")

	// v2, with a slow request in flight on blue across the switch.
	a.write(t, v2)
	var wg sync.WaitGroup
	var slowCode int
	var slowBody string
	var slowErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowCode, slowBody, slowErr = get(a.host(), "/slow?ms=2500")
	}()
	waitInFlight(t, a)
	r = mustLuma(t, a.dir, "deploy", "--release", "r2")
	if !strings.Contains(r.Stdout, fmt.Sprintf("Current active: blue, deploying: green")) {
		t.Errorf("deploy output lacks the colors line")
	}
	wg.Wait()
	if slowErr != nil || slowCode != 200 {
		t.Fatalf("request in flight across the switch: %d %v %q", slowCode, slowErr, slowBody)
	}
	assertServing(t, a, "green", "v2", "r2")

	// v3 never becomes healthy: the deploy fails, v2 keeps serving.
	a.write(t, v2, "UP_STATUS=500")
	// With --json the result goes to stdout for scripts, progress to stderr.
	r = luma(t, a.dir, "deploy", "--release", "r3", "--json")
	if r.Code != 3 {
		t.Fatalf("broken deploy exit = %d, want 3 (rolled back)\n%s", r.Code, r)
	}
	for _, line := range []string{
		fmt.Sprintf("[%s] Health check failed for %s-%s-blue-", a.server, a.project, a.name),
		fmt.Sprintf("[%s] Cleaning up failed deployment containers...", a.server),
	} {
		if !strings.Contains(r.Stderr, line) {
			t.Errorf("failed deploy progress lacks %q", line)
		}
	}
	var res struct {
		OK       bool `json:"ok"`
		ExitCode int  `json:"exit_code"`
		Apps     []struct {
			Servers []struct{ Server, Outcome, Active, Error string }
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.OK || res.ExitCode != 3 || len(res.Apps) != 1 {
		t.Fatalf("deploy --json: %v\n%s", err, r.Stdout)
	}
	if s := res.Apps[0].Servers[0]; s.Server != a.server || s.Outcome != "rolled_back" || s.Active != "green" || !strings.Contains(s.Error, "/up returned 500") {
		t.Fatalf("deploy --json server result = %+v", s)
	}
	assertServing(t, a, "green", "v2", "r2")
}

// waitInFlight is a short pause so the slow request reaches the app before
// the deploy starts; the deploy itself takes far longer than this.
func waitInFlight(t *testing.T, a app) {
	t.Helper()
	code, _, err := get(a.host(), "/up")
	if err != nil || code != 200 {
		t.Fatalf("app not serving before deploy: %d %v", code, err)
	}
}

// assertServing checks that exactly the color's containers exist, with the
// spec's names and labels, that only they carry the app alias, that the
// proxy serves them by Host header, and that status says so.
func assertServing(t *testing.T, a app, color, ver, rel string) {
	t.Helper()
	want := []string{a.project + "-" + a.name + "-" + color + "-1", a.project + "-" + a.name + "-" + color + "-2"}
	if got := containers(t, a.project, a.name); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("containers = %v, want %v", got, want)
	}
	for i, name := range want {
		var labels map[string]string
		json.Unmarshal([]byte(docker(t, "inspect", "-f", "{{json .Config.Labels}}", name)), &labels)
		exp := map[string]string{"luma.project": a.project, "luma.app": a.name, "luma.color": color,
			"luma.replica": fmt.Sprint(i + 1), "luma.release": rel}
		for k, v := range exp {
			if labels[k] != v {
				t.Errorf("%s label %s = %q, want %q", name, k, labels[k], v)
			}
		}
		if _, ok := labels["luma.active"]; ok {
			t.Errorf("%s has a luma.active label, which would lie after the next deploy", name)
		}
		aliases := docker(t, "inspect", "-f", fmt.Sprintf(`{{json (index .NetworkSettings.Networks "%s-network").Aliases}}`, a.project), name)
		if !strings.Contains(aliases, fmt.Sprintf("%q", a.name)) {
			t.Errorf("%s aliases %s lack %q", name, aliases, a.name)
		}
	}
	for i := 0; i < 6; i++ {
		v := version(t, a.host())
		if v["version"] != ver || v["color"] != color || v["release"] != rel {
			t.Fatalf("proxy served %v, want version %s color %s release %s", v, ver, color, rel)
		}
	}
	st := mustLuma(t, a.dir, "status")
	for _, line := range []string{
		"📱 App: " + a.name,
		"Status: ✅ RUNNING (active: " + color + ")",
		"Replicas: 2/2 running",
		fmt.Sprintf("Colors: %d blue, %d green", map[bool]int{true: 2}[color == "blue"], map[bool]int{true: 2}[color == "green"]),
		"Servers: " + a.server,
		"Release: " + rel,
	} {
		if !strings.Contains(st.Stdout, line) {
			t.Errorf("status lacks %q:\n%s", line, st.Stdout)
		}
	}
	js := mustLuma(t, a.dir, "status", "--json")
	var doc struct {
		Apps []struct {
			App, Status, Active, Release string
			Running, Desired             int
		}
	}
	if err := json.Unmarshal([]byte(js.Stdout), &doc); err != nil || len(doc.Apps) != 1 {
		t.Fatalf("status --json: %v\n%s", err, js.Stdout)
	}
	got := doc.Apps[0]
	if got.Status != "RUNNING" || got.Active != color || got.Release != rel || got.Running != 2 || got.Desired != 2 {
		t.Fatalf("status --json = %+v", got)
	}
}
