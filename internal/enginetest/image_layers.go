package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/luma-deploy/luma/drivers"
)

// testImageLayers builds an image on the subject's that adds one layer of
// its own, and checks what pruning counts on: the layers' sizes add up to
// the image's, the new top layer is no layer of the base, and once the
// image is removed the engine holds the base's layers still and not the
// build's own, which is what left the disk.
func testImageLayers(t *testing.T, v *env) {
	ref := "luma-contract-layers:" + v.run
	t.Cleanup(func() { v.e.RemoveImage(context.Background(), ref) })
	spec := drivers.BuildSpec{Tag: ref, Dockerfile: "Dockerfile", Labels: map[string]string{runLabel: v.run}}
	if err := v.e.BuildImage(ctx(t), spec, contextWithFile(t, "FROM "+v.Image+"\nCOPY blob /blob\n", 300_000)); err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	list := v.list(t, map[string]string{runLabel: v.run})
	if len(list) != 1 {
		t.Fatalf("ListImages = %+v, want the build", list)
	}
	layers, err := v.e.ImageLayers(ctx(t), ref)
	if err != nil || len(layers) == 0 {
		t.Fatalf("ImageLayers(%s) = %v, %v", ref, layers, err)
	}
	var sum int64
	for _, l := range layers {
		sum += l.Size
	}
	if sum != list[0].Size {
		t.Errorf("layers %+v add up to %d bytes, the image is %d", layers, sum, list[0].Size)
	}
	if byID, err := v.e.ImageLayers(ctx(t), list[0].ID); err != nil || len(byID) != len(layers) {
		t.Errorf("ImageLayers by ID = %v, %v; by ref %v", byID, err, layers)
	}
	base, err := v.e.ImageLayers(ctx(t), v.Image)
	if err != nil || len(base) == 0 {
		t.Fatalf("ImageLayers(%s) = %v, %v", v.Image, base, err)
	}
	top := layers[len(layers)-1]
	for _, l := range base {
		if l.Chain == top.Chain {
			t.Fatalf("the build's top layer %s is a layer of %s", top.Chain, v.Image)
		}
	}
	if err := v.e.RemoveImage(ctx(t), ref); err != nil {
		t.Fatal(err)
	}
	left, err := v.e.LayerChains(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if left[top.Chain] {
		t.Errorf("after the removal the engine still holds the build's own layer %s", top.Chain)
	}
	for _, l := range base {
		if !left[l.Chain] {
			t.Errorf("after the removal the engine lacks %s's layer %s", v.Image, l.Chain)
		}
	}
	if _, err := v.e.ImageLayers(ctx(t), ref); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("ImageLayers of a removed image: %v, want ErrNotFound", err)
	}
}

// contextWithFile is a build context: the Dockerfile and a file "blob" of
// size random bytes.
func contextWithFile(t *testing.T, dockerfile string, size int) *bytes.Buffer {
	t.Helper()
	blob := make([]byte, size)
	rand.Read(blob)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		b    []byte
	}{{"Dockerfile", []byte(dockerfile)}, {"blob", blob}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.b))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.b); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}
