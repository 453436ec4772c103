package prune

import (
	"errors"
	"slices"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
)

// Freed counts only the layers that left the disk: a base shared with the
// releases that stay, or with another app's image, frees nothing, and a
// layer that only removed images shared counts once.
func TestFreedCountsOnlyLayersThatLeft(t *testing.T) {
	h := fake.NewHost("server1")
	refs := releases(t, h, 5)
	api := build(t, h, "shop", "api", "a1")
	base := fake.Layer{Chain: "base", Size: 50_000_000}
	deps1 := fake.Layer{Chain: "base+deps1", Size: 20_000_000} // r1 and r2 only
	deps2 := fake.Layer{Chain: "base+deps2", Size: 20_000_000}
	for i, ref := range refs {
		deps := deps2
		if i < 2 {
			deps = deps1
		}
		h.SetLayers(ref, base, deps, fake.Layer{Chain: deps.Chain + "+" + ref, Size: 1_000_000})
	}
	h.SetLayers(api, base, fake.Layer{Chain: "base+api", Size: 3_000_000})

	res, err := Run(ctx, Target{Name: "server1", Engine: h, Records: h}, web)
	if err != nil {
		t.Fatal(err)
	}
	if got := have(t, h, refs...); !slices.Equal(got, refs[2:]) {
		t.Fatalf("left %v, want %v", got, refs[2:])
	}
	// r1's and r2's own layers and deps1 once; not the base (71 MB each
	// if shared layers counted).
	if want := int64(22_000_000); res.Freed != want {
		t.Errorf("freed %d bytes, want %d", res.Freed, want)
	}
	if want := "Removed 2 old images of web (22 MB freed)"; res.Line() != want {
		t.Errorf("line %q, want %q", res.Line(), want)
	}
}

// An image whose layers cannot be read stays (what it frees is unknown);
// when the engine cannot list its layers after the removals, the result
// still says what went, with nothing claimed freed, and the error why.
func TestFreedUnknown(t *testing.T) {
	h := fake.NewHost("server1")
	refs := releases(t, h, 3)
	h.Inject(fake.Fault{Op: "ImageLayers", Nth: 1})
	res, err := Run(ctx, Target{Name: "server1", Engine: h}, App{Project: "shop", Name: "web", Keep: 1})
	if !errors.Is(err, fake.ErrInjected) {
		t.Errorf("err %v, want the failed read", err)
	}
	if got := have(t, h, refs...); !slices.Equal(got, []string{refs[0], refs[2]}) {
		t.Errorf("left %v, want %s kept for its unread layers", got, refs[0])
	}
	if res.Freed != fake.ImageSize {
		t.Errorf("freed %d, want the one image removed", res.Freed)
	}

	h.Inject(fake.Fault{Op: "LayerChains"})
	res, err = Run(ctx, Target{Name: "server1", Engine: h}, App{Project: "shop", Name: "web", Keep: 1})
	if !errors.Is(err, fake.ErrInjected) || len(res.Removed) != 1 || res.Freed != 0 {
		t.Errorf("layers unreadable after the removal: %+v, %v", res, err)
	}
}
