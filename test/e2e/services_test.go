package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestServices boots a project's accessory service with `luma setup`:
// created once with its alias on the project network, left alone when
// unchanged, named (not recreated) when its configuration changed, and
// recreated with --restart-services. Secret values stay out of labels.
func TestServices(t *testing.T) {
	img := testenv.BuildHello(t, "v1")
	const project = "e2esvc"
	removeProject(t, project)
	dir := t.TempDir()
	write := func(greeting string) {
		yml := fmt.Sprintf(`name: %s
proxy:
  http_port: %d
services:
  cache:
    image: %s
    servers: [localhost]
    environment:
      plain: ["GREETING=%s"]
      secret: [CACHE_TOKEN]
`, project, proxyPort, img, greeting)
		os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(yml), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, ".luma"), 0o700)
	os.WriteFile(filepath.Join(dir, ".luma", "secrets"), []byte("CACHE_TOKEN=tok-7f3a9\n"), 0o600)
	write("hi")

	r := mustLuma(t, dir, "setup")
	if !strings.Contains(r.Stdout, "[localhost] Starting service cache (") {
		t.Fatalf("setup did not start the service:\n%s", r)
	}
	name := project + "-cache"
	id := docker(t, "inspect", "-f", "{{.Id}}", name)
	if state := docker(t, "inspect", "-f", "{{.State.Status}}", name); state != "running" {
		t.Fatalf("%s is %s", name, state)
	}
	aliases := docker(t, "inspect", "-f", `{{json (index .NetworkSettings.Networks "e2esvc-network").Aliases}}`, name)
	if !strings.Contains(aliases, `"cache"`) {
		t.Fatalf("%s aliases %s lack cache", name, aliases)
	}
	if env := docker(t, "inspect", "-f", "{{json .Config.Env}}", name); !strings.Contains(env, "CACHE_TOKEN=tok-7f3a9") {
		t.Fatalf("secret not in the service's environment: %s", env)
	}
	if labels := docker(t, "inspect", "-f", "{{json .Config.Labels}}", name); strings.Contains(labels, "tok-7f3a9") {
		t.Fatalf("secret value in labels: %s", labels)
	}
	if strings.Contains(r.Stdout+r.Stderr, "tok-7f3a9") {
		t.Fatal("secret value printed")
	}

	r = mustLuma(t, dir, "setup")
	if !strings.Contains(r.Stdout, "[localhost] Service cache is up to date") || docker(t, "inspect", "-f", "{{.Id}}", name) != id {
		t.Fatalf("unchanged service was touched:\n%s", r)
	}

	write("hello")
	r = mustLuma(t, dir, "setup")
	if !strings.Contains(r.Stdout, "--restart-services") || docker(t, "inspect", "-f", "{{.Id}}", name) != id {
		t.Fatalf("changed service recreated without --restart-services:\n%s", r)
	}
	r = mustLuma(t, dir, "setup", "--restart-services")
	if !strings.Contains(r.Stdout, "Recreating service cache") || docker(t, "inspect", "-f", "{{.Id}}", name) == id {
		t.Fatalf("service not recreated:\n%s", r)
	}
	if env := docker(t, "inspect", "-f", "{{json .Config.Env}}", name); !strings.Contains(env, "GREETING=hello") {
		t.Fatalf("recreated service has env %s", env)
	}

	st := mustLuma(t, dir, "status", "--json")
	var doc struct {
		Services []struct {
			Service string
			Servers []struct{ Name, State string }
		}
	}
	if err := json.Unmarshal([]byte(st.Stdout), &doc); err != nil || len(doc.Services) != 1 || doc.Services[0].Servers[0].State != "running" {
		t.Fatalf("status --json services: %v\n%s", err, st.Stdout)
	}
}
