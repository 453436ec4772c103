package status

import (
	"encoding/json"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

func TestProjects(t *testing.T) {
	got := Projects(
		[]machine.Record{
			{Project: "shop", App: "web", State: machine.Idle, Release: "r3", Active: "green"},
			{Project: "blog", App: "web", State: machine.Draining, Release: "b7", Active: "blue"},
			{Project: "shop", App: "api", State: machine.Idle, Release: "r2", Active: "blue"},
		},
		[]drivers.Route{{App: "shop/web", Hosts: []string{"shop.test"}}, {App: "blog/web", Hosts: []string{"blog.test"}}, {App: "wiki/web", Hosts: []string{"wiki.test"}}},
		[]drivers.PortClaim{{Project: "shop", HTTP: 80, HTTPS: 443}, {Project: "empty", HTTP: 8080}},
	)
	b, _ := json.Marshal(got)
	want := `[{"project":"blog","apps":[{"app":"web","state":"draining","release":"b7","active":"blue","hosts":["blog.test"],"routed":true}]},` +
		`{"project":"empty","ports":{"project":"empty","http":8080},"apps":[]},` +
		`{"project":"shop","ports":{"project":"shop","http":80,"https":443},"apps":[{"app":"api","state":"idle","release":"r2","active":"blue","routed":false},{"app":"web","state":"idle","release":"r3","active":"green","hosts":["shop.test"],"routed":true}]},` +
		`{"project":"wiki","apps":[{"app":"web","state":"","hosts":["wiki.test"],"routed":true}]}]`
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
}
