package history

import (
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// log builds the events of runs on servers: "deploy r1 deployed" etc.,
// a minute apart.
func log(servers []string, runs ...string) map[string][]drivers.Event {
	out := map[string][]drivers.Event{}
	for i, r := range runs {
		f := strings.Fields(r)
		for _, s := range servers {
			out[s] = append(out[s], drivers.Event{Kind: f[0], Project: "shop", App: "web", Release: f[1], Outcome: f[2],
				Who: "alice@laptop", At: t0.Add(time.Duration(i) * time.Minute), Image: "web:" + f[1], ImageID: "sha256:" + f[1]})
		}
	}
	return out
}

func TestMergeGroupsServers(t *testing.T) {
	ev := log([]string{"web1", "web2"}, "deploy r1 deployed", "deploy r2 deployed")
	ev["web2"][1].Outcome = "rolled_back"
	runs := Merge(ev)
	if len(runs) != 2 || runs[0].Release != "r2" || len(runs[0].Servers) != 2 || runs[0].Outcome != "mixed" || runs[1].Outcome != "deployed" {
		t.Fatalf("runs %+v", runs)
	}
	if runs[0].Deployed() || !runs[1].Deployed() {
		t.Fatal("a mixed run counts as deployed")
	}
}

func TestTarget(t *testing.T) {
	cases := []struct {
		name, current, to string
		runs              []string
		want, err         string
	}{
		{name: "previous", current: "r3", runs: []string{"deploy r1 deployed", "deploy r2 deployed", "deploy r3 deployed"}, want: "r2"},
		{name: "twice walks back", current: "r2", runs: []string{"deploy r1 deployed", "deploy r2 deployed", "deploy r3 deployed", "rollback r2 deployed"}, want: "r1"},
		{name: "failed deploys skipped", current: "r3", runs: []string{"deploy r1 deployed", "deploy r2 rolled_back", "deploy r3 deployed"}, want: "r1"},
		{name: "after rollback and deploy", current: "r4", runs: []string{"deploy r1 deployed", "deploy r2 deployed", "deploy r3 deployed", "rollback r2 deployed", "deploy r4 deployed"}, want: "r2"},
		{name: "redeploy of the same release", current: "r2", runs: []string{"deploy r1 deployed", "deploy r2 deployed", "deploy r2 deployed"}, want: "r1"},
		{name: "not across a removal", current: "r3", runs: []string{"deploy r1 deployed", "remove r1 ok", "deploy r3 deployed"},
			err: "web has no release before r3"},
		{name: "to across a removal", current: "r3", to: "r1", runs: []string{"deploy r1 deployed", "remove r1 ok", "deploy r3 deployed"}, want: "r1"},
		{name: "to", current: "r3", to: "r1", runs: []string{"deploy r1 deployed", "deploy r2 deployed", "deploy r3 deployed"}, want: "r1"},
		{name: "to unknown", current: "r3", to: "r9", runs: []string{"deploy r1 deployed", "deploy r2 rolled_back", "deploy r3 deployed"},
			err: "release r9 of web is unknown: known releases are r3, r1"},
		{name: "to current", current: "r3", to: "r3", runs: []string{"deploy r3 deployed"}, err: "web already serves r3"},
		{name: "nothing before", current: "r1", runs: []string{"deploy r1 deployed"}, err: "web has no release before r1 to roll back to (known releases: r1)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Target(Merge(log([]string{"web1"}, c.runs...)), "web", c.current, c.to)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got.Release != c.want {
				t.Fatalf("target %s %v, want %s", got.Release, err, c.want)
			}
			if got.Run.Servers[0].ImageID != "sha256:"+c.want {
				t.Fatalf("image of the target %+v", got.Run.Servers)
			}
		})
	}
}
