package steps

import (
	"slices"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// An app deployed when containers were named {app}-{color} (before the
// project was in the name) moves to the new names on its next deploy,
// with no request lost: the old-named set is the old set, served until
// the switch and removed after it.
func TestOldNamesAreTheOldSet(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		e := newEnv(t, replicas)
		h := e.hosts[0]
		old := []string{"blog-blue"}
		if replicas > 1 {
			old = []string{"blog-blue-1", "blog-blue-2"}
		}
		h.AddImage("blog:r1")
		h.EnsureNetwork(bg, naming.Network("shop"), nil)
		for i, name := range old {
			spec := drivers.ContainerSpec{Name: name, Image: "blog:r1", Network: naming.Network("shop"),
				Labels: map[string]string{naming.LabelProject: "shop", naming.LabelApp: "blog", naming.LabelColor: naming.Blue,
					naming.LabelRelease: "r1", naming.LabelReplica: string(rune('1' + i))}}
			if err := h.Create(bg, spec); err != nil {
				t.Fatal(err)
			}
			h.Start(bg, name)
		}
		h.SetRoute(bg, drivers.Route{App: "shop/blog", Hosts: e.app.Hosts, Targets: e.app.targets(old)})
		h.Save(bg, machine.Record{Project: "shop", App: "blog", Server: "server1", State: machine.Idle, Release: "r1",
			FromColor: "", ToColor: naming.Blue, Active: naming.Blue, New: old})

		e.mustDeploy("r2", naming.Green)
		var names []string
		for _, c := range appContainers(h) {
			names = append(names, c.Name)
		}
		if want := naming.AppContainers("shop", "blog", naming.Green, replicas); !slices.Equal(names, want) {
			t.Fatalf("%d replicas: containers %v, want %v", replicas, names, want)
		}
		if rec, _ := h.Record("shop", "blog"); !slices.Equal(rec.Old, old) || rec.Previous != "r1" {
			t.Fatalf("record %+v", rec)
		}
		if e.out.has("[server1] Found") {
			t.Fatalf("old-named containers taken for pre-blue-green ones:\n%s", e.out.text())
		}
	}
}

// Named volumes carry the project; a volume the serving set mounts under
// its old name (made before) keeps it, so a deploy never leaves data
// behind in a volume the new containers do not mount.
func TestVolumesCarryTheProject(t *testing.T) {
	e := newEnv(t, 1)
	h := e.hosts[0]
	e.app.Volumes = []string{"data:/var/lib/app", "/etc/ssl:/ssl:ro"}
	e.mustDeploy("r1", naming.Blue)
	spec, _, _ := h.Spec("shop-blog-blue")
	if got := strings.Join(spec.Volumes, " "); got != "shop-data:/var/lib/app /etc/ssl:/ssl:ro" {
		t.Fatalf("volumes %s", got)
	}

	// A set made before: it mounts data, not shop-data.
	e2 := newEnv(t, 1)
	h2 := e2.hosts[0]
	e2.app.Volumes = e.app.Volumes
	h2.AddImage("blog:r1")
	h2.EnsureNetwork(bg, naming.Network("shop"), nil)
	h2.Create(bg, drivers.ContainerSpec{Name: "blog-blue", Image: "blog:r1", Network: naming.Network("shop"), Volumes: []string{"data:/var/lib/app"},
		Labels: map[string]string{naming.LabelProject: "shop", naming.LabelApp: "blog", naming.LabelColor: naming.Blue, naming.LabelRelease: "r1"}})
	h2.Start(bg, "blog-blue")
	h2.Save(bg, machine.Record{Project: "shop", App: "blog", Server: "server1", State: machine.Idle, Release: "r1", ToColor: naming.Blue, Active: naming.Blue, New: []string{"blog-blue"}})
	e2.mustDeploy("r2", naming.Green)
	spec, _, _ = h2.Spec("shop-blog-green")
	if got := strings.Join(spec.Volumes, " "); got != "data:/var/lib/app /etc/ssl:/ssl:ro" {
		t.Fatalf("volumes after the move %s", got)
	}
	if !e2.out.has("[server1] Volume data keeps its name") {
		t.Fatalf("no line says why:\n%s", e2.out.text())
	}
}
