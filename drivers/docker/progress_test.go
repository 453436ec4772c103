package docker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/testenv"
)

// The Engine's push and pull streams give the progress the deploy's
// lines print: bytes that grow to about the image's 50 MB layer, over
// layers that all end done. Sizes and times are logged for
// docs/benchmarks.md:
//
//	go test -run TestPushPullProgress -v ./drivers/docker/
func TestPushPullProgress(t *testing.T) {
	testenv.SkipShort(t, "the Docker Engine and a registry")
	reg := testenv.NewRegistry(t)
	e := testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := reg.Addr + "/luma-test/progress:" + testenv.Unique(t, "p")
	t.Cleanup(func() { e.RemoveImage(context.Background(), ref) })
	tar, err := docker.TarFiles(map[string][]byte{"Dockerfile": []byte("FROM scratch\nCOPY blob /blob\n"), "blob": random(t, 50_000_000)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.BuildImage(ctx, drivers.BuildSpec{Tag: ref, Dockerfile: "Dockerfile"}, tar); err != nil {
		t.Fatal(err)
	}
	auth := &drivers.RegistryAuth{Server: reg.Addr, Username: reg.User, Password: reg.Password}
	measure := func(op string, do func(ctx context.Context) error) drivers.Progress {
		t.Helper()
		var (
			mu      sync.Mutex
			last    drivers.Progress
			reports int
		)
		start := time.Now()
		err := do(drivers.WithProgress(ctx, func(p drivers.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if p.Bytes < last.Bytes && p.Layers == last.Layers {
				t.Errorf("%s: progress went back from %+v to %+v", op, last, p)
			}
			last, reports = p, reports+1
		}))
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		t.Logf("%s %s: %d reports, last %+v, %.2f s (%.1f MB/s)", op, ref, reports, last, took.Seconds(), float64(last.Bytes)/1e6/took.Seconds())
		return last
	}
	p := measure("push", func(ctx context.Context) error { return e.PushImage(ctx, ref, auth) })
	if p.Bytes < 40_000_000 || p.Bytes > 60_000_000 || p.Done != p.Layers || p.Layers == 0 {
		t.Errorf("push progress ends at %+v, want about 50 MB with every layer done", p)
	}
	if err := e.RemoveImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	p = measure("pull", func(ctx context.Context) error { return e.PullImage(ctx, ref, auth) })
	if p.Bytes < 40_000_000 || p.Bytes > 60_000_000 || p.Done != p.Layers || p.Layers == 0 {
		t.Errorf("pull progress ends at %+v, want about 50 MB with every layer done", p)
	}
}
