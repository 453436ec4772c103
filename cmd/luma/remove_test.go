package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
)

func TestRemoveExitCodes(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	locked := &drivers.LockedError{Lock: drivers.Lock{Key: "p/web", Holder: "bob"}}
	cases := []struct {
		ctx  context.Context
		err  error
		want int
	}{
		// Fleet.Each joins the servers' errors: one locked server is enough.
		{live, errors.Join(fmt.Errorf("[s1] %w", locked), errors.New("[s2] boom")), exitLocked},
		{live, errors.New("[s1] remove web-blue-1: boom"), exitFailure},
		{done, fmt.Errorf("[s1] stop web-blue-1: %w", context.Canceled), exitInterrupted},
	}
	for _, c := range cases {
		if got := removeExitCode(c.ctx, c.err); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.want)
		}
	}
}

// A name is required, and it must be an app of luma.yml; both are refused
// before any server is reached.
func TestRemoveNeedsAKnownApp(t *testing.T) {
	dir := t.TempDir()
	yml := "name: demo\napps:\n  blog:\n    image: blog:1\n    servers: [\"203.0.113.1\"]\n"
	cfg := filepath.Join(dir, "luma.yml")
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"remove"}, "name the app(s) to remove"},
		{[]string{"remove", "-c", cfg, "nope"}, `no app "nope"`},
	} {
		var out, errb bytes.Buffer
		root := newRootCmd(&out, &errb)
		root.SetArgs(c.args)
		err := root.Execute()
		var ex *exitError
		if !errors.As(err, &ex) || ex.code != exitUsage || !strings.Contains(ex.msg, c.want) {
			t.Errorf("luma %v: %v, want exit %d with %q", c.args, err, exitUsage, c.want)
		}
	}
}
