package docker_test

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/drivers/ssh"
	"github.com/luma-deploy/luma/internal/testenv"
)

// Latency of one Engine call and of one Exec, locally and over SSH with and
// without the held PTY session. Rerun:
//
//	go test -run '^$' -bench . -benchtime 300x ./drivers/docker/
//
// p50/p95/p99 are reported per call; the mean alone hides the ~40 ms
// delayed-ACK stalls the PTY removes.
func BenchmarkLatency(b *testing.B) {
	image := testenv.BuildHello(b, "v1")
	local := testenv.Docker(b)
	srv := testenv.SSHD(b)
	engines := []struct {
		name string
		e    drivers.Engine
	}{
		{"local", local},
		{"ssh", overSSH(b, srv.Options(), true)},
		{"ssh-no-pty", overSSH(b, srv.Options(), false)},
	}
	if _, err := exec.LookPath("docker"); err == nil {
		engines = append(engines, struct {
			name string
			e    drivers.Engine
		}{"dial-stdio", overSSH(b, testenv.SSHD(b, testenv.NoStreamLocal()).Options(), true)})
	}

	labels := testenv.Labels(b)
	ctr := testenv.Unique(b, "bench")
	ctx := context.Background()
	if err := local.Create(ctx, drivers.ContainerSpec{Name: ctr, Image: image, Labels: labels}); err != nil {
		b.Fatal(err)
	}
	if err := local.Start(ctx, ctr); err != nil {
		b.Fatal(err)
	}
	stdin := []byte(`{"op":"routes"}`)

	for _, eng := range engines {
		b.Run("Inspect/"+eng.name, func(b *testing.B) {
			measure(b, func() error { _, err := eng.e.Inspect(ctx, ctr); return err })
		})
		b.Run("Exec/"+eng.name, func(b *testing.B) {
			measure(b, func() error { _, err := eng.e.Exec(ctx, ctr, []string{"/hello", "cat"}, stdin); return err })
		})
	}
}

func overSSH(b *testing.B, o ssh.Options, pty bool) *docker.Engine {
	dial := ssh.Dial
	if !pty {
		dial = ssh.DialWithoutPTY
	}
	conn, err := dial(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	e, err := docker.OverSSH(context.Background(), "bench", conn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

func measure(b *testing.B, call func() error) {
	if err := call(); err != nil { // warm the connection pool
		b.Fatal(err)
	}
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		if err := call(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.95), "p95-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
