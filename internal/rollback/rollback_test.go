package rollback

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/machine"
)

var ctx = context.Background()

// builder is where the images come from: loaded from it, every server
// has the same image ID.
var builder = fake.NewHost("local")

// deployed leaves on h what deploys of rels left: their images, their
// events, and a record serving the last.
func deployed(t *testing.T, h *fake.Host, rels ...string) {
	t.Helper()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, rel := range rels {
		ref := "web:" + rel
		if ok, _ := h.HasImage(ctx, ref); !ok {
			if ok, _ := builder.HasImage(ctx, ref); !ok {
				builder.AddImage(ref)
			}
			tar, _ := builder.SaveImage(ctx, ref)
			if err := h.LoadImage(ctx, tar); err != nil { // same ID everywhere, as an engine's
				t.Fatal(err)
			}
		}
		id, _ := h.ImageID(ctx, ref)
		e := drivers.Event{Kind: drivers.EventDeploy, Project: "shop", App: "web", Release: rel, Image: ref, ImageID: id,
			Who: "alice@laptop", At: at.Add(time.Duration(i) * time.Minute), Outcome: "deployed"}
		if err := h.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	h.Save(ctx, machine.Record{Project: "shop", App: "web", State: machine.Idle, Release: rels[len(rels)-1], Active: "blue"})
}

func servers(hosts ...*fake.Host) []Server {
	var out []Server
	for _, h := range hosts {
		out = append(out, Server{Name: h.Name(), Image: h, Proxy: h})
	}
	return out
}

func TestPlanRunsTheImageIDWhenEveryServerHoldsIt(t *testing.T) {
	a, b := fake.NewHost("web1"), fake.NewHost("web2")
	deployed(t, a, "r1", "r2")
	deployed(t, b, "r1", "r2")
	p, err := Make(ctx, "shop", "web", servers(a, b), "")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := a.ImageID(ctx, "web:r1")
	if p.Current != "r2" || p.Target != "r1" || p.Ref != "web:r1" || len(p.Missing) != 0 || p.Image != id {
		t.Fatalf("plan %+v", p)
	}
}

func TestPlanSendsWhatAServerLacks(t *testing.T) {
	a, b := fake.NewHost("web1"), fake.NewHost("web2")
	deployed(t, a, "r1", "r2")
	deployed(t, b, "r1", "r2")
	if err := b.RemoveImage(ctx, "web:r1"); err != nil {
		t.Fatal(err)
	}
	p, err := Make(ctx, "shop", "web", servers(a, b), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Image != "web:r1" || strings.Join(p.Missing, ",") != "web2" {
		t.Fatalf("plan %+v", p)
	}
}

func TestPlanRefuses(t *testing.T) {
	a := fake.NewHost("web1")
	if _, err := Make(ctx, "shop", "web", servers(a), ""); err == nil || !strings.Contains(err.Error(), "web is not deployed on web1") {
		t.Fatalf("never deployed: %v", err)
	}
	deployed(t, a, "r1", "r2")
	if _, err := Make(ctx, "shop", "web", servers(a), "r7"); err == nil || !strings.Contains(err.Error(), "known releases are r2, r1") {
		t.Fatalf("unknown release: %v", err)
	}
	// A deploy of r3 that died before its switch: r2 still serves, so
	// the rollback (which recovers the dead run first) goes to r1.
	a.Save(ctx, machine.Record{Project: "shop", App: "web", State: machine.HealthChecking, Release: "r3", Previous: "r2", Active: "blue", Holder: "bob@desk pid 3"})
	if p, err := Make(ctx, "shop", "web", servers(a), ""); err != nil || p.Current != "r2" || p.Target != "r1" {
		t.Fatalf("mid-deploy: %+v %v", p, err)
	}
}
