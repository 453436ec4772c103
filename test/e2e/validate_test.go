package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad luma.yml is reported with file, line and column, exit code 1, and
// no command touches a server with it: deploy and setup fail the same way
// before connecting anywhere.
func TestInvalidConfigChangesNothing(t *testing.T) {
	dir := t.TempDir()
	bad := `name: e2ebad
apps:
  webbad:
    image: luma-test-hello:v1
    replica: 2
    servers: [localhost]
    proxy:
      hosts: [e2ebad.test]
      app_port: 70000
`
	os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(bad), 0o644)
	for _, cmd := range [][]string{{"validate"}, {"deploy"}, {"setup"}} {
		r := luma(t, dir, cmd...)
		if r.Code != 1 {
			t.Fatalf("luma %v exit = %d, want 1\n%s", cmd, r.Code, r)
		}
		for _, want := range []string{
			`luma.yml:5:5: apps.webbad.replica: unknown key; did you mean "replicas"?`,
			"luma.yml:9:17: apps.webbad.proxy.app_port: must be a port from 1 to 65535, got 70000",
			"nothing was changed",
		} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("luma %v: stderr lacks %q", cmd, want)
			}
		}
	}
	if names := containers(t, "e2ebad", "webbad"); len(names) != 0 {
		t.Fatalf("containers created from an invalid config: %v", names)
	}
	if out := docker(t, "network", "ls", "-q", "--filter", "name=e2ebad-network"); out != "" {
		t.Fatalf("network created from an invalid config")
	}

	good := strings.Replace(strings.Replace(bad, "replica:", "replicas:", 1), "70000", "3000", 1)
	os.WriteFile(filepath.Join(dir, "luma.yml"), []byte(good), 0o644)
	r := mustLuma(t, dir, "validate")
	if !strings.Contains(r.Stdout, `luma.yml is valid: project "e2ebad", 1 app(s)`) {
		t.Fatalf("validate summary:\n%s", r)
	}
}
