package multiserver

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestTwoProjectsOnThreeServers is two projects, each with an app named
// web, on the same three servers: set up and deployed in turn, then both
// at once under load through every server's proxy (no request of either
// fails), each serving its own release; one removed while the other
// keeps serving.
func TestTwoProjectsOnThreeServers(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	var ps []*project
	for _, name := range []string{"msprja", "msprjb"} {
		p := newProject(t, name)
		p.app = "web"
		p.write(t, v1)
		mustLuma(t, p.dir, "setup")
		mustLuma(t, p.dir, "deploy", "--release", "r1")
		ps = append(ps, p)
	}
	for _, p := range ps {
		p.assertServing(t, "blue", "v1", "r1")
	}

	stops := []func(){loadAll(t, ps[0].hosts[0]), loadAll(t, ps[1].hosts[0])}
	var wg sync.WaitGroup
	results := make([]result, len(ps))
	for i, p := range ps {
		p.write(t, v2)
		wg.Go(func() { results[i] = luma(t, p.dir, "deploy", "--release", "r2") })
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // load keeps going after the switch
	for _, stop := range stops {
		stop()
	}
	for i, r := range results {
		if r.Code != 0 {
			t.Fatalf("deploy of %s at once with the other:\n%s", ps[i].name, r)
		}
	}
	for _, p := range ps {
		p.assertServing(t, "green", "v2", "r2")
	}

	stop := loadAll(t, ps[1].hosts[0])
	r := mustLuma(t, ps[0].dir, "remove", "web")
	stop()
	for _, s := range servers {
		if !strings.Contains(r.Stdout, "["+s+"] web removed ✓") {
			t.Errorf("remove output lacks %s:\n%s", s, r.Stdout)
		}
	}
	for i := range servers {
		if got := ps[0].containers(t, i); len(got) != 0 {
			t.Errorf("[%s] %s left %v", servers[i], ps[0].name, got)
		}
	}
	ps[1].assertServing(t, "green", "v2", "r2")
}
