package steps

import (
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
)

// Every run that took the lock leaves one event per server: release,
// what served before, the image and its ID, who, and the outcome with
// its reason. A run that never got the lock leaves none.
func TestRunsAreAudited(t *testing.T) {
	e := newEnv(t, 1, "web1", "web2")
	e.mustDeploy("r1", "blue")
	e.mustDeploy("r2", "green")
	e.hosts[1].Behave(fake.Behavior{Match: "blog:r3", NeverHealthy: true, FailStatus: 503})
	if _, err := e.deploy(bg, "r3"); err == nil {
		t.Fatal("r3 deployed")
	}
	e.opts.Kind = drivers.EventRollback
	e.mustDeploy("r1", "blue")
	e.opts.Kind = ""
	e.hosts[0].Lock(bg, e.app.Key(), "bob@desk pid 7", time.Hour)
	if _, err := e.deploy(bg, "r4"); err == nil {
		t.Fatal("r4 deployed past bob's lock")
	}

	for _, h := range e.hosts {
		events, err := h.Events(bg, "shop")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range events {
			got = append(got, ev.Kind+" "+ev.Release+" from "+ev.Previous+" "+ev.Outcome)
			if ev.Who != "alice@laptop" || ev.App != "blog" || ev.At.IsZero() || ev.Image != "blog:"+ev.Release {
				t.Errorf("%s: event %+v", h.Name(), ev)
			}
			if want, _ := h.ImageID(bg, ev.Image); ev.ImageID != want || want == "" {
				t.Errorf("%s: image ID %q, the server has %q", h.Name(), ev.ImageID, want)
			}
		}
		want := []string{
			"deploy r1 from  deployed",
			"deploy r2 from r1 deployed",
			"deploy r3 from r2 rolled_back",
			"rollback r1 from r2 deployed",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: history\n%s\nwant\n%s", h.Name(), strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if d := events[2].Detail; !strings.Contains(d, "503") && h == e.hosts[1] {
			t.Errorf("%s: the failed run's detail %q does not say why", h.Name(), d)
		}
	}
}

// A proxy that cannot keep the history (an older luma-proxy) costs a
// warning line, not the deploy.
func TestAuditFailureOnlyWarns(t *testing.T) {
	e := newEnv(t, 1)
	e.hosts[0].Inject(fake.Fault{Op: "AppendEvent"})
	e.mustDeploy("r1", "blue")
	if !e.out.has("[server1] Warning: could not add this deploy to the server's history: injected fault") {
		t.Fatalf("no warning:\n%s", e.out.text())
	}
}
