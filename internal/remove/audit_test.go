package remove

import (
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// A remove leaves an event in the server's history, which outlives the
// record it forgets: who, what served, how it ended.
func TestRemoveIsAudited(t *testing.T) {
	h := deployed(t)
	h.Save(bg, machine.Record{Project: "demo", App: "blog", State: machine.Idle, Active: "blue", Release: "r7"})
	var out lines
	if err := Server(bg, "s1", h, h, blog, opts, &out); err != nil {
		t.Fatal(err)
	}
	events, _ := h.Events(bg, "demo")
	if len(events) != 1 {
		t.Fatalf("events %+v", events)
	}
	e := events[0]
	if e.Kind != drivers.EventRemove || e.App != "blog" || e.Release != "r7" || e.Who != "alice@laptop 1" || e.Outcome != "ok" || e.At.IsZero() {
		t.Fatalf("event %+v", e)
	}
}
