package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/steps"
)

// Lines from servers running in parallel never interleave, and a writer
// that is not a terminal gets no color codes.
func TestPrinterWholeLinesNoColor(t *testing.T) {
	var b bytes.Buffer
	p := newPrinter(&b)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				p.Printf(fmt.Sprintf("s%d", i), "Health check failed for web-%d: a long reason %s", j, strings.Repeat("x", 200))
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "[s") || !strings.HasSuffix(l, strings.Repeat("x", 200)) || strings.Contains(l, "\x1b[") {
			t.Fatalf("broken line %q", l)
		}
	}
}

// Colors go to a terminal (a character device: /dev/null stands in for
// one) unless NO_COLOR is set, whatever its value, or TERM is dumb.
func TestNoColorEnv(t *testing.T) {
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "")
	os.Unsetenv("NO_COLOR")
	if !useColor(tty) {
		t.Fatal("no color on a terminal")
	}
	for _, v := range []string{"1", ""} {
		t.Setenv("NO_COLOR", v)
		if useColor(tty) {
			t.Fatalf("color with NO_COLOR=%q", v)
		}
	}
	os.Unsetenv("NO_COLOR")
	t.Setenv("TERM", "dumb")
	if useColor(tty) {
		t.Fatal("color with TERM=dumb")
	}
}

func TestDeployExitCodes(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		ctx  context.Context
		err  error
		want int
	}{
		{live, fmt.Errorf("deploy of web r2 rolled back: %w", errors.New("health check failed")), exitRolledBack},
		{live, fmt.Errorf("x: %w", &drivers.LockedError{Lock: drivers.Lock{Key: "p/web"}}), exitLocked},
		{live, fmt.Errorf("[s1] %w: stopped in draining", steps.ErrAfterSwitch), exitAfterSwitch},
		{done, fmt.Errorf("%w before the switch", steps.ErrInterrupted), exitInterrupted},
	}
	for _, c := range cases {
		if got := deployExitCode(c.ctx, c.err); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.want)
		}
	}
}
