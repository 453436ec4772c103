package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// TestOldNamesMoveUnderLoad is a deployment made before names carried the
// project, as luma left it then: container migweb-blue (labelled, with
// the app alias, mounting the volume migdata), routed, recorded. The next
// deploy under load moves it to e2emig-migweb-green with no failed
// request, keeps the volume (and says so), and removes the old container.
func TestOldNamesMoveUnderLoad(t *testing.T) {
	v1, v2 := images(t)
	// Registered first, so it runs last: after the project's containers
	// are gone, their volumes can go.
	t.Cleanup(func() { exec.Command("docker", "volume", "rm", "-f", "migdata", "e2emig-migdata").Run() })
	a := newFapp(t, "e2emig", "migweb")
	a.write(t, spec{image: v1})
	yml := readFile(t, filepath.Join(a.dir, "luma.yml"))
	yml = strings.Replace(yml, "    replicas: 1\n", "    replicas: 1\n    volumes: [\"migdata:/data\"]\n", 1)
	os.WriteFile(filepath.Join(a.dir, "luma.yml"), []byte(yml), 0o644)
	mustLuma(t, a.dir, "setup")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "migweb-blue").Run() })

	docker(t, "run", "-d", "--name", "migweb-blue", "--network", "e2emig-network", "--network-alias", "migweb",
		"--label", "luma.project=e2emig", "--label", "luma.app=migweb", "--label", "luma.color=blue",
		"--label", "luma.replica=1", "--label", "luma.release=r1", "-v", "migdata:/data", "-e", "LUMA_RELEASE=r1", v1)
	admin(t, protocol.Request{Op: protocol.OpSetRoute, Route: &drivers.Route{App: a.key(), Hosts: []string{a.host()},
		Targets: []string{"migweb-blue:3000"}, HealthPath: "/up"}})
	now := time.Now()
	admin(t, protocol.Request{Op: protocol.OpSave, Record: &machine.Record{Project: a.project, App: a.name, Server: "localhost",
		State: machine.Idle, Release: "r1", ToColor: "blue", Active: "blue", New: []string{"migweb-blue"},
		StartedAt: now, UpdatedAt: now, Outcome: "deployed"}})
	if v := version(t, a.host()); v["release"] != "r1" {
		t.Fatalf("the old deployment serves %v", v)
	}

	yml = strings.Replace(yml, v1, v2, 1)
	os.WriteFile(filepath.Join(a.dir, "luma.yml"), []byte(yml), 0o644)
	l := startLoad(a.host())
	r := mustLuma(t, a.dir, "deploy", "--release", "r2")
	l.check(t, "the move to the new names")
	for _, want := range []string{
		"[localhost] Current active: blue, deploying: green",
		"[localhost] Deploying 1 replica(s): e2emig-migweb-green",
		"[localhost] Volume migdata keeps its name",
		"[localhost] Blue-green deployment completed successfully",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("no %q in\n%s", want, r.Stdout)
		}
	}
	if got := containers(t, a.project, a.name); strings.Join(got, ",") != "e2emig-migweb-green" {
		t.Fatalf("containers after the move: %v", got)
	}
	if m := docker(t, "inspect", "-f", `{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}}`, "e2emig-migweb-green"); m != "migdata:/data" {
		t.Errorf("the new container mounts %q, want migdata:/data", m)
	}
	if v := version(t, a.host()); v["release"] != "r2" {
		t.Fatalf("after the move serving %v", v)
	}
}
