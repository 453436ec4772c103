package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestRemove deploys an app with two replicas, removes it, checks that
// nothing of it is left (containers, route, record) while the shared
// network and luma-proxy stay, and deploys it again from scratch.
func TestRemove(t *testing.T) {
	a := app{project: "e2erm", name: "webrm", server: "localhost", dir: t.TempDir()}
	v1 := testenv.BuildHello(t, "v1")
	removeProject(t, a.project)
	a.write(t, v1)
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	if got := containers(t, a.project, a.name); len(got) != 2 {
		t.Fatalf("containers after deploy = %v", got)
	}

	// A name is required, and must be one of luma.yml's apps.
	if r := luma(t, a.dir, "remove"); r.Code != 2 {
		t.Fatalf("remove without a name: exit %d, want 2", r.Code)
	}
	if r := luma(t, a.dir, "remove", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, `no app "nope"`) {
		t.Fatalf("remove of an unknown app: exit %d, want 2\n%s", r.Code, r)
	}
	if got := containers(t, a.project, a.name); len(got) != 2 {
		t.Fatalf("a refused remove changed containers: %v", got)
	}

	r := mustLuma(t, a.dir, "remove", a.name)
	for _, line := range []string{
		fmt.Sprintf("[%s] Removing %s...", a.server, a.name),
		fmt.Sprintf("[%s] Stopped and removed 2 containers", a.server),
		fmt.Sprintf("[%s] %s removed ✓", a.server, a.name),
	} {
		if !strings.Contains(r.Stdout, line+"\n") {
			t.Errorf("remove output lacks %q", line)
		}
	}
	if got := containers(t, a.project, a.name); len(got) != 0 {
		t.Fatalf("containers left after remove: %v", got)
	}
	code, body, err := get(a.host(), "/up")
	if err != nil || code != 404 || !strings.Contains(body, "luma-proxy") {
		t.Fatalf("GET after remove = %d %v %q, want luma-proxy's 404", code, err, body)
	}
	// The project network and luma-proxy stay for other apps.
	if out := docker(t, "network", "ls", "-q", "-f", "name=^"+a.project+"-network$"); strings.TrimSpace(out) == "" {
		t.Error("remove took the project network away")
	}
	if out := docker(t, "inspect", "-f", "{{.State.Running}}", "luma-proxy"); strings.TrimSpace(out) != "true" {
		t.Errorf("luma-proxy running = %q after remove", out)
	}

	js := mustLuma(t, a.dir, "status", "--json")
	var doc struct {
		Apps []struct {
			App, Status, Active, Release string
			Running                      int
			Servers                      []struct {
				Name, State, Active, Release, Outcome, Deploy, Updated string
				Lock                                                   any
			}
		}
	}
	if err := json.Unmarshal([]byte(js.Stdout), &doc); err != nil || len(doc.Apps) != 1 || len(doc.Apps[0].Servers) != 1 {
		t.Fatalf("status --json: %v\n%s", err, js.Stdout)
	}
	st := doc.Apps[0]
	srv := st.Servers[0]
	if st.Status != "STOPPED" || st.Active != "" || st.Release != "" || st.Running != 0 {
		t.Fatalf("status after remove = %+v", st)
	}
	// No record: the state is the zero machine state, never updated, with
	// nothing of the last deploy, and no lock is left.
	if srv.State != "idle" || srv.Updated != "0001-01-01T00:00:00Z" || srv.Active != "" || srv.Release != "" || srv.Outcome != "" || srv.Deploy != "" || srv.Lock != nil {
		t.Fatalf("server status after remove = %+v", srv)
	}

	// Removing again finds nothing to do.
	r = mustLuma(t, a.dir, "remove", a.name)
	if !strings.Contains(r.Stdout, "Stopped and removed 0 containers") {
		t.Errorf("second remove output:\n%s", r.Stdout)
	}

	// And a deploy starts from scratch.
	r = mustLuma(t, a.dir, "deploy", "--release", "r2")
	if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] No active version, deploying: blue", a.server)) {
		t.Errorf("deploy after remove lacks the fresh-start line:\n%s", r.Stdout)
	}
	assertServing(t, a, "blue", "v1", "r2")
}
