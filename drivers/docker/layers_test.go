package docker_test

import (
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/testenv"
)

// A release that changed one 1 MB layer of a ~100 MB image sends that
// layer only, and the Engine loads it as the same image; a first send is
// the whole image. Sizes and times are logged for docs/benchmarks.md:
//
//	go test -run TestSendOnlyMissingLayers -v ./drivers/docker/
func TestSendOnlyMissingLayers(t *testing.T) {
	testenv.SkipShort(t, "the Docker Engine")
	e := testenv.Docker(t)
	ctx := context.Background()
	run := testenv.Unique(t, "layers")
	big := random(t, 100_000_000)
	build := func(tag string) string {
		ref := "luma-test-layers:" + run + "-" + tag
		t.Cleanup(func() { e.RemoveImage(context.Background(), ref) })
		tar, err := docker.TarFiles(map[string][]byte{
			"Dockerfile": []byte("FROM scratch\nCOPY big /big\nCOPY small /small\n"),
			"big":        big,
			"small":      random(t, 1_000_000),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.BuildImage(ctx, drivers.BuildSpec{Tag: ref, Dockerfile: "Dockerfile"}, tar); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	before, err := e.LayerChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v1 := build("v1")
	first := send(t, e, v1, before, false)
	if first < 100_000_000 || first > 105_000_000 {
		t.Errorf("first send of %s: %d bytes, want about 101 MB", v1, first)
	}
	have, err := e.LayerChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v2 := build("v2")
	if n := send(t, e, v2, have, true); n >= 3_000_000 {
		t.Errorf("send of %s: %d bytes, want < 3 MB", v2, n)
	}
}

// send saves ref for an engine holding the layers have, loads it (after
// removing ref when load, so the load is real) and returns the bytes sent.
func send(t *testing.T, e *docker.Engine, ref string, have map[string]bool, load bool) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := e.ImageID(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tar, err := e.SaveImageFor(ctx, ref, have)
	if err != nil {
		t.Fatal(err)
	}
	defer tar.Close()
	spooled := time.Since(start)
	var n int64
	if load {
		if err := e.RemoveImage(ctx, ref); err != nil {
			t.Fatal(err)
		}
		c := &counting{r: tar}
		if err := e.LoadImage(ctx, c); err != nil {
			t.Fatalf("load %s without the layers the engine has: %v", ref, err)
		}
		n = c.n
		if got, _ := e.ImageID(ctx, ref); got != id {
			t.Fatalf("loaded %s as %q, want %q", ref, got, id)
		}
	} else if n, err = io.Copy(io.Discard, tar); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: sent %d bytes of %d (announced %d); save+spool %s, total %s",
		ref, n, tar.Whole, tar.Size, spooled.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return n
}

type counting struct {
	r io.Reader
	n int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
