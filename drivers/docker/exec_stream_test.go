package docker_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
)

func TestExecStream(t *testing.T) {
	image := testenv.BuildHello(t, "v1")
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			labels := testenv.Labels(t)
			ctr := testenv.Unique(t, "stream")
			if err := e.Create(ctx(t), drivers.ContainerSpec{Name: ctr, Image: image, Labels: labels}); err != nil {
				t.Fatal(err)
			}
			if err := e.Start(ctx(t), ctr); err != nil {
				t.Fatal(err)
			}

			// Each line comes back before the next is sent: a stream, not
			// a buffer handed over at exit.
			s, err := e.ExecStream(ctx(t), ctr, []string{"/hello", "cat"})
			if err != nil {
				t.Fatal(err)
			}
			out := bufio.NewReader(s.Stdout())
			for i := range 20 {
				line := fmt.Sprintf(`{"id":%d,"op":"ping"}`+"\n", i)
				if _, err := io.WriteString(s, line); err != nil {
					t.Fatal(err)
				}
				got, err := out.ReadString('\n')
				if err != nil || got != line {
					t.Fatalf("round trip %d: %q, %v", i, got, err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if rest, err := io.ReadAll(out); err != nil || len(rest) != 0 {
				t.Fatalf("after stdin closed: %q, %v", rest, err)
			}
			if err := s.Wait(); err != nil {
				t.Fatalf("wait: %v", err)
			}

			// A non-zero exit carries its code and stderr.
			s, err = e.ExecStream(ctx(t), ctr, []string{"/hello", "exit", "3", "unknown flag: --session\n"})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, s.Stdout())
			if err := s.Wait(); err == nil || !strings.HasSuffix(err.Error(), "exit code 3: unknown flag: --session") {
				t.Fatalf("non-zero exit: %v", err)
			}

			// Cancelling ctx cuts the stream of a command that never ends.
			c, cancel := context.WithCancel(ctx(t))
			s, err = e.ExecStream(c, ctr, []string{"/hello", "cat"})
			if err != nil {
				t.Fatal(err)
			}
			read := make(chan error, 1)
			go func() { _, err := io.Copy(io.Discard, s.Stdout()); read <- err }()
			cancel()
			select {
			case <-read:
			case <-time.After(10 * time.Second):
				t.Fatal("stdout still open after cancel")
			}
			if err := s.Wait(); !errors.Is(err, context.Canceled) {
				t.Fatalf("wait after cancel: %v", err)
			}

			stopped := testenv.Unique(t, "stopped")
			if err := e.Create(ctx(t), drivers.ContainerSpec{Name: stopped, Image: image, Labels: labels}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.ExecStream(ctx(t), stopped, []string{"/hello", "cat"}); err == nil || !strings.Contains(err.Error(), "not running") {
				t.Errorf("exec in a stopped container: %v", err)
			}
			if _, err := e.ExecStream(ctx(t), testenv.Unique(t, "missing"), []string{"/hello", "cat"}); !errors.Is(err, drivers.ErrNotFound) {
				t.Errorf("exec in a missing container: %v", err)
			}
		})
	}
}
