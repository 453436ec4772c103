package steps

import (
	"slices"
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
