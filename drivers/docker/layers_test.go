package docker_test

import (
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/drivers/ssh"
	"github.com/luma-deploy/luma/internal/testenv"
)

// A release that changed one 1 MB layer of a ~100 MB image sends that
// layer only, and the Engine loads it as the same image; a first send is
// the whole image. The "server" is this Engine over SSH (testenv.SSHD);
// each image is removed after its save and before its load, so the load
// is real. Sizes and times are logged for docs/benchmarks.md:
//
//	go test -run TestSendOnlyMissingLayers -v ./drivers/docker/
func TestSendOnlyMissingLayers(t *testing.T) {
	testenv.SkipShort(t, "the Docker Engine and sshd")
	e := testenv.Docker(t)
	ctx := context.Background()
	conn, err := ssh.Dial(ctx, testenv.SSHD(t).Options())
	if err != nil {
		t.Fatal(err)
	}
	server, err := docker.OverSSH(ctx, "server", conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
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
	// What the server holds is read before each build: the local engine
	// is the server too.
	before, err := server.LayerChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v1 := build("v1")
	if n := send(t, e, server, v1, before); n < 100_000_000 || n > 105_000_000 {
		t.Errorf("first send of %s: %d bytes, want about 101 MB", v1, n)
	}
	have, err := server.LayerChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v2 := build("v2")
	if n := send(t, e, server, v2, have); n >= 3_000_000 {
		t.Errorf("send of %s: %d bytes, want < 3 MB", v2, n)
	}
}

// send saves ref on local for a server holding the layers have, removes
// ref, loads the save through server and returns the bytes sent.
func send(t *testing.T, local, server *docker.Engine, ref string, have map[string]bool) int64 {
	t.Helper()
	ctx := context.Background()
	id, err := local.ImageID(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tar, err := local.SaveImageFor(ctx, ref, have)
	if err != nil {
		t.Fatal(err)
	}
	defer tar.Close()
	spooled := time.Since(start)
	if err := local.RemoveImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	c := &counting{r: tar}
	loading := time.Now()
	if err := server.LoadImage(ctx, c); err != nil {
		t.Fatalf("load %s without the layers the server has: %v", ref, err)
	}
	took := time.Since(loading)
	if got, _ := server.ImageID(ctx, ref); got != id {
		t.Fatalf("loaded %s as %q, want %q", ref, got, id)
	}
	t.Logf("%s: sent %d bytes of %d (announced %d); save+spool %s, send+load over SSH %s (%.1f MB/s)",
		ref, c.n, tar.Whole, tar.Size, spooled.Round(time.Millisecond), took.Round(time.Millisecond), float64(c.n)/1e6/took.Seconds())
	return c.n
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
