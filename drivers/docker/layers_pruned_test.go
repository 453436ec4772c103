package docker_test

import (
	"context"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/testenv"
)

// What the send's fallback relies on, on the real Engine: a tar that left
// out layers the engine held fails to load once they are pruned, the
// engine's layers then lack one the tar names as omitted, and the whole
// save loads as the same image. The engine is both ends: each tar is
// saved before the removals.
func TestLoadAfterLayersPruned(t *testing.T) {
	testenv.SkipShort(t, "the Docker Engine")
	e := testenv.Docker(t)
	ctx := context.Background()
	run := testenv.Unique(t, "pruned")
	base, app := "luma-test-pruned:"+run+"-base", "luma-test-pruned:"+run+"-app"
	t.Cleanup(func() {
		e.RemoveImage(context.Background(), app)
		e.RemoveImage(context.Background(), base)
	})
	build := func(ref, dockerfile string, size int) {
		t.Helper()
		tar, err := docker.TarFiles(map[string][]byte{"Dockerfile": []byte(dockerfile), "blob": random(t, size)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.BuildImage(ctx, drivers.BuildSpec{Tag: ref, Dockerfile: "Dockerfile"}, tar); err != nil {
			t.Fatal(err)
		}
	}
	build(base, "FROM scratch\nCOPY blob /base\n", 2_000_000)
	build(app, "FROM "+base+"\nCOPY blob /app\n", 100_000)
	id, _ := e.ImageID(ctx, app)
	have, err := e.LayerChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := e.SaveImageFor(ctx, app, have)
	if err != nil {
		t.Fatal(err)
	}
	defer diff.Close()
	whole, err := e.SaveImageFor(ctx, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if len(diff.Omitted) != 2 || len(whole.Omitted) != 0 {
		t.Fatalf("omitted %v of the diff, %v of the whole save; want both layers, none", diff.Omitted, whole.Omitted)
	}
	// The prune: both images go, and their layers with them.
	for _, ref := range []string{app, base} {
		if err := e.RemoveImage(ctx, ref); err != nil {
			t.Fatal(err)
		}
	}
	err = e.LoadImage(ctx, diff)
	if err == nil {
		t.Fatal("a tar without layers the engine no longer holds loaded")
	}
	t.Logf("the engine refuses the diff: %v", err)
	left, err := e.LayerChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if left[diff.Omitted[0]] {
		t.Errorf("the engine still holds the base layer %s", diff.Omitted[0])
	}
	if err := e.LoadImage(ctx, whole); err != nil {
		t.Fatalf("load of the whole save: %v", err)
	}
	if got, _ := e.ImageID(ctx, app); got != id {
		t.Errorf("loaded %s as %q, want %q", app, got, id)
	}
}
