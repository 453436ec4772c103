package enginetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/luma-deploy/luma/drivers"
)

// testImageStore builds three labelled images, the last two under one
// tag (so the first of them is left untagged), and checks how they are
// listed and which removals the engine refuses: never the last reference
// of an image a container uses.
func testImageStore(t *testing.T, v *env) {
	repo := "luma-contract-store-" + v.run
	a, a2, b := repo+":a", repo+":a-too", repo+":b"
	t.Cleanup(func() { // what the test did not remove, best effort
		for _, ref := range []string{a, a2, b} {
			v.e.RemoveImage(context.Background(), ref)
		}
	})
	build := func(n string, tags ...string) drivers.Image {
		t.Helper()
		spec := drivers.BuildSpec{Tag: tags[0], Tags: tags[1:], Dockerfile: "Dockerfile",
			Labels: map[string]string{runLabel: v.run, "contract.n": n}}
		if err := v.e.BuildImage(ctx(t), spec, tarOf(t, "Dockerfile", "FROM "+v.Image+"\n")); err != nil {
			t.Fatalf("BuildImage %v: %v", tags, err)
		}
		list := v.list(t, map[string]string{runLabel: v.run, "contract.n": n})
		if len(list) != 1 {
			t.Fatalf("ListImages of build %s = %+v, want one image", n, list)
		}
		return list[0]
	}
	first := build("1", a, a2)
	if !sameSet(first.Refs, []string{a, a2}) || first.Labels["contract.n"] != "1" || first.Created.IsZero() || first.Size <= 0 {
		t.Errorf("image built with two tags = %+v", first)
	}
	if id, _ := v.e.ImageID(ctx(t), a2); id != first.ID {
		t.Errorf("ImageID(%s) = %q, want the build's %q", a2, id, first.ID)
	}
	old := build("2", b)
	newer := build("3", b) // the tag moves: old is left untagged
	list := v.list(t, map[string]string{runLabel: v.run})
	if got := ids(list); !slices.Equal(got, []string{first.ID, old.ID, newer.ID}) {
		t.Fatalf("ListImages = %v, want oldest first %v", got, []string{first.ID, old.ID, newer.ID})
	}
	if len(list[1].Refs) != 0 || !slices.Equal(list[2].Refs, []string{b}) {
		t.Errorf("refs after the tag moved: old %v, newer %v", list[1].Refs, list[2].Refs)
	}

	// A container of the first image, never started, holds its last tag.
	spec := v.spec("store")
	spec.Image = a
	v.create(t, spec)
	if c := v.inspect(t, spec.Name); c.ImageID != first.ID {
		t.Errorf("container ImageID = %q, want %q", c.ImageID, first.ID)
	}
	if err := v.e.RemoveImage(ctx(t), a2); err != nil {
		t.Errorf("RemoveImage of one of two tags: %v", err)
	}
	if err := v.e.RemoveImage(ctx(t), a); !errors.Is(err, drivers.ErrConflict) {
		t.Errorf("RemoveImage of the last tag of an image in use: %v, want ErrConflict", err)
	}
	if ok, _ := v.e.HasImage(ctx(t), a); !ok {
		t.Error("the image in use is gone")
	}
	if err := v.e.Remove(ctx(t), spec.Name); err != nil {
		t.Fatal(err)
	}
	if err := v.e.RemoveImage(ctx(t), a); err != nil {
		t.Errorf("RemoveImage once no container uses it: %v", err)
	}
	if err := v.e.RemoveImage(ctx(t), old.ID); err != nil {
		t.Errorf("RemoveImage of an untagged image by ID: %v", err)
	}
	if err := v.e.RemoveImage(ctx(t), repo+":missing"); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("RemoveImage of a missing tag: %v, want ErrNotFound", err)
	}
	if got := ids(v.list(t, map[string]string{runLabel: v.run})); !slices.Equal(got, []string{newer.ID}) {
		t.Errorf("ListImages after the removals = %v, want [%s]", got, newer.ID)
	}
	if err := v.e.RemoveImage(ctx(t), b); err != nil {
		t.Errorf("RemoveImage %s: %v", b, err)
	}
}

func (v *env) list(t *testing.T, labels map[string]string) []drivers.Image {
	t.Helper()
	list, err := v.e.ListImages(ctx(t), labels)
	if err != nil {
		t.Fatalf("ListImages: %v", err)
	}
	return list
}

func ids(list []drivers.Image) []string {
	var out []string
	for _, i := range list {
		out = append(out, i.ID)
	}
	return out
}
