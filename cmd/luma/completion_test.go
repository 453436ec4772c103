package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Completion offers the apps and servers of the luma.yml --config names,
// through cobra's hidden __complete command as the shells call it.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "luma.yml")
	os.WriteFile(cfg, []byte(`name: shop
apps:
  web:
    image: web:1
    servers: [web1, web2]
  worker:
    image: worker:1
    servers: [jobs1]
`), 0o644)
	complete := func(args ...string) []string {
		var out bytes.Buffer
		root := newRootCmd(&out, &out)
		root.SetArgs(append([]string{"__complete", "--config", cfg}, args...))
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(out.String(), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion") {
				got = append(got, l)
			}
		}
		return got
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"deploy", ""}, "web,worker"},
		{[]string{"deploy", "web", ""}, "worker"},
		{[]string{"rollback", "w"}, "web,worker"},
		{[]string{"rollback", "web", ""}, ""},
		{[]string{"logs", "web", "--server", ""}, "web1,web2"},
		{[]string{"exec", "worker", "--server", ""}, "jobs1"},
		{[]string{"lock", "release", "wo"}, "worker"},
	} {
		if got := strings.Join(complete(c.args...), ","); got != c.want {
			t.Errorf("luma %s: %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
}
