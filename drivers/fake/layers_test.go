package fake_test

import (
	"context"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
)

// As the Engine's load, a tar that leaves out a layer the loading host
// lacks is refused; one that leaves out only layers it holds loads.
func TestLoadNeedsLeftOutLayers(t *testing.T) {
	ctx := context.Background()
	src, dst := fake.NewHost("laptop"), fake.NewHost("server")
	base := fake.Layer{Chain: "base", Size: 1000}
	src.AddImage("app:1", "app:2")
	src.SetLayers("app:1", base, fake.Layer{Chain: "base+1", Size: 10})
	src.SetLayers("app:2", base, fake.Layer{Chain: "base+2", Size: 10})
	tar, err := src.SaveImageFor(ctx, "app:2", map[string]bool{"base": true})
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.LoadImage(ctx, tar); err == nil {
		t.Fatal("loaded without the base layer")
	}
	whole, err := src.SaveImageFor(ctx, "app:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.LoadImage(ctx, whole); err != nil {
		t.Fatal(err)
	}
	have, err := dst.LayerChains(ctx)
	if err != nil || !have["base"] || !have["base+1"] || have["base+2"] {
		t.Fatalf("server layers %v, %v", have, err)
	}
	tar, err = src.SaveImageFor(ctx, "app:2", have)
	if err != nil {
		t.Fatal(err)
	}
	if tar.Size > tar.Whole-1000 {
		t.Fatalf("sends %d of %d: the base went too", tar.Size, tar.Whole)
	}
	if err := dst.LoadImage(ctx, tar); err != nil {
		t.Fatal(err)
	}
	if a, _ := src.ImageID(ctx, "app:2"); a == "" {
		t.Fatal("no image")
	} else if b, _ := dst.ImageID(ctx, "app:2"); a != b {
		t.Fatalf("server has %q, want %q", b, a)
	}
}
