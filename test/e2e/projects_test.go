package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/status"
)

// TestTwoProjectsShareAServer is two teams' projects on one engine, each
// with an app called web: both set up and deploy in turn and at once
// under load (no request of either fails), each sees only its own apps,
// `status --all-projects` sees both, removing one leaves the other
// serving, and a third project asking for a port the others serve the
// other way, or a host one of them serves, is refused naming them.
func TestTwoProjectsShareAServer(t *testing.T) {
	v1, v2 := images(t)
	a, b := newFapp(t, "e2eprja", "web"), newFapp(t, "e2eprjb", "web")
	for _, p := range []*fapp{a, b} {
		p.write(t, spec{image: v1})
		mustLuma(t, p.dir, "setup")
	}
	proxyID := docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer)
	mustLuma(t, a.dir, "deploy", "--release", "a1")
	mustLuma(t, b.dir, "deploy", "--release", "b1")
	for _, p := range []*fapp{a, b} {
		if v := version(t, p.host()); v["release"] != p.project[len(p.project)-1:]+"1" {
			t.Fatalf("%s serves %v", p.host(), v)
		}
		if got := containers(t, p.project, "web"); len(got) != 1 || !strings.HasPrefix(got[0], p.project+"-web-") {
			t.Fatalf("%s's containers: %v", p.project, got)
		}
	}

	// Both at once, under load on both.
	la, lb := startLoad(a.host()), startLoad(b.host())
	for _, p := range []*fapp{a, b} {
		p.write(t, spec{image: v2})
	}
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, p := range []*fapp{a, b} {
		wg.Go(func() { results[i] = luma(t, p.dir, "deploy", "--release", p.project[len(p.project)-1:]+"2") })
	}
	wg.Wait()
	la.check(t, "both projects deploying at once ("+a.project+")")
	lb.check(t, "both projects deploying at once ("+b.project+")")
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("deploy %d at once:\n%s", i, r)
		}
	}

	// Each project's status is its own; --all-projects shows both.
	var st statusDoc
	json.Unmarshal([]byte(mustLuma(t, a.dir, "status", "--json").Stdout), &st)
	if len(st.Apps) != 1 || st.Apps[0].Servers[0].Release != "a2" {
		t.Fatalf("status of %s: %+v", a.project, st)
	}
	var all struct {
		Servers []struct {
			Server   string
			Projects []status.Project
		}
	}
	r := mustLuma(t, a.dir, "status", "--all-projects", "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &all); err != nil || len(all.Servers) != 1 {
		t.Fatalf("status --all-projects: %v\n%s", err, r.Stdout)
	}
	seen := map[string]string{}
	for _, p := range all.Servers[0].Projects {
		for _, app := range p.Apps {
			seen[p.Name+"/"+app.App] = app.Release
		}
		if (p.Name == a.project || p.Name == b.project) && (p.Ports == nil || p.Ports.HTTP != proxyPort) {
			t.Errorf("%s's ports: %+v", p.Name, p.Ports)
		}
	}
	if seen[a.key()] != "a2" || seen[b.key()] != "b2" {
		t.Fatalf("status --all-projects saw %v", seen)
	}
	if r := mustLuma(t, b.dir, "status", "--all-projects"); !strings.Contains(r.Stdout, "[localhost]   "+b.project+" (this project): HTTP 8080") {
		t.Errorf("status --all-projects:\n%s", r.Stdout)
	}

	// Removing one project's web leaves the other's serving.
	lb = startLoad(b.host())
	mustLuma(t, a.dir, "remove", "web")
	lb.check(t, "the other project's remove")
	if code, _, _ := get(a.host(), "/"); code != 404 {
		t.Errorf("%s after its remove: %d", a.host(), code)
	}
	if got := containers(t, b.project, "web"); len(got) != 1 {
		t.Fatalf("%s's containers after %s's remove: %v", b.project, a.project, got)
	}

	// A third project: HTTPS on the port the others serve HTTP on.
	c := newFapp(t, "e2eprjc", "web")
	os.WriteFile(filepath.Join(c.dir, "luma.yml"), []byte(fmt.Sprintf(`name: e2eprjc
proxy: {http_port: 8091, https_port: %d}
apps:
  web:
    image: %s
    servers: [localhost]
    proxy: {hosts: [e2eprjc.test], app_port: 3000, ssl: {certificate: C_CERT, private_key: C_KEY}}
`, proxyPort, v1)), 0o644)
	r = luma(t, c.dir, "setup")
	if r.Code == 0 || !strings.Contains(r.Stderr, fmt.Sprintf("project e2eprjc asks luma-proxy for HTTPS on port %d, which luma-proxy serves HTTP on for project", proxyPort)) ||
		!strings.Contains(r.Stderr, "nothing was changed") {
		t.Fatalf("setup with a clashing port:\n%s", r)
	}
	// A host another project serves.
	c.write(t, spec{image: v1})
	os.WriteFile(filepath.Join(c.dir, "luma.yml"), []byte(strings.Replace(readFile(t, filepath.Join(c.dir, "luma.yml")), c.host(), b.host(), 1)), 0o644)
	mustLuma(t, c.dir, "setup")
	r = luma(t, c.dir, "deploy", "--release", "c1")
	if r.Code != 1 || !strings.Contains(r.Stderr, fmt.Sprintf("[localhost] host %s of %s is served by %s", b.host(), c.key(), b.key())) ||
		!strings.Contains(r.Stderr, "nothing was changed") || len(containers(t, c.project, "web")) != 0 {
		t.Fatalf("deploy of a host another project serves:\n%s", r)
	}
	if v := version(t, b.host()); v["release"] != "b2" {
		t.Fatalf("%s serves %v after the refused deploy", b.host(), v)
	}
	if docker(t, "inspect", "-f", "{{.Id}}", naming.ProxyContainer) != proxyID {
		t.Error("luma-proxy was replaced: projects on the same ports should share it as it is")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
