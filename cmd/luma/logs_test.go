package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/logs"
)

// Bad arguments are refused before any server is reached (the servers
// here are unreachable addresses).
func TestLogsUsage(t *testing.T) {
	dir := t.TempDir()
	yml := "name: demo\napps:\n  blog:\n    image: blog:1\n    servers: [\"203.0.113.1\", \"203.0.113.2\"]\n  shop:\n    image: shop:1\n    servers: [\"203.0.113.3\"]\n"
	cfg := filepath.Join(dir, "luma.yml")
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "-c", cfg}, "name one app"},
		{[]string{"logs", "-c", cfg, "blog", "--proxy"}, "name no app"},
		{[]string{"logs", "-c", cfg, "nope"}, `no app "nope" in ` + cfg + " (apps: blog, shop)"},
		{[]string{"logs", "-c", cfg, "blog", "--server", "203.0.113.3"}, `server "203.0.113.3" is not one of app "blog"'s servers (servers: 203.0.113.1, 203.0.113.2)`},
		{[]string{"logs", "-c", cfg, "--proxy", "--server", "db"}, `server "db" is not one of the project's servers (servers: 203.0.113.1, 203.0.113.2, 203.0.113.3)`},
		{[]string{"logs", "-c", cfg, "blog", "--since", "yesterday"}, `--since "yesterday": want a duration`},
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

func TestLogPrinter(t *testing.T) {
	at := time.Date(2025, 1, 2, 15, 4, 5, 120000000, time.UTC)
	l := logs.Line{Server: "web1", Container: "blog-blue", LogLine: drivers.LogLine{Time: at, Stream: drivers.Stderr, Text: "GET / 200"}}
	for _, c := range []struct {
		opts logsOptions
		want string
	}{
		{logsOptions{}, "[web1 blog-blue] GET / 200\n"},
		{logsOptions{timestamps: true}, "[web1 blog-blue] 2025-01-02T15:04:05.12Z GET / 200\n"},
	} {
		var b bytes.Buffer
		g := &globals{stdout: &b, out: newPrinter(&b)}
		if err := logPrinter(g, &c.opts)(l); err != nil || b.String() != c.want {
			t.Errorf("%+v: printed %q, %v; want %q", c.opts, b.String(), err, c.want)
		}
	}

	var b bytes.Buffer
	g := &globals{stdout: &b, out: newPrinter(&b)}
	print := logPrinter(g, &logsOptions{json: true})
	print(l)
	print(l)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	var got map[string]string
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil || len(lines) != 2 {
		t.Fatalf("--json printed %q: %v", b.String(), err)
	}
	want := map[string]string{"server": "web1", "container": "blog-blue", "time": "2025-01-02T15:04:05.12Z", "stream": "stderr", "line": "GET / 200"}
	for k, v := range want {
		if got[k] != v || len(got) != len(want) {
			t.Errorf("--json %s = %q, want %q (%v)", k, got[k], v, got)
		}
	}
}
