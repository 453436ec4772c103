package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite revision.sum for the current source and Revision")

// TestRevisionFollowsSource fails when the code luma-proxy runs changed
// (this module's packages it imports, and the versions of the modules
// they use) but Revision did not: setup would then leave servers on the
// old proxy. Bump Revision and run with -update.
func TestRevisionFollowsSource(t *testing.T) {
	sum := sourceSum(t)
	want := fmt.Sprintf("%d %s\n", revision, sum)
	if *update {
		if err := os.WriteFile("revision.sum", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile("revision.sum")
	if err != nil {
		t.Fatalf("revision.sum: %v (run go test ./proxy -run TestRevisionFollowsSource -update)", err)
	}
	var rev int
	var recorded string
	fmt.Sscan(string(got), &rev, &recorded)
	switch {
	case recorded == sum && rev != revision:
		t.Errorf("revision is %d but revision.sum records %d for this source: run with -update", revision, rev)
	case recorded != sum && rev == revision:
		t.Errorf("luma-proxy's source changed since revision %d: bump revision in proxy/revision.go to %d and run go test ./proxy -run TestRevisionFollowsSource -update", rev, rev+1)
	case recorded != sum:
		t.Errorf("revision.sum is stale: run go test ./proxy -run TestRevisionFollowsSource -update")
	}
}

// sourceSum hashes what `luma proxy run` executes: cmd/luma/proxy.go and
// every non-test Go file of this module's packages the proxy imports, and
// the module versions of the others.
func sourceSum(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.ImportPath}}|{{.Dir}}|{{join .GoFiles ","}}|{{with .Module}}{{.Path}}@{{.Version}}{{end}}{{end}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			continue
		}
		if !strings.HasPrefix(f[0], "github.com/luma-deploy/luma") {
			parts = append(parts, f[3])
			continue
		}
		for _, name := range strings.Split(f[2], ",") {
			if name == "" || name == "revision.go" {
				continue
			}
			parts = append(parts, f[0]+"/"+name+":"+fileSum(t, filepath.Join(f[1], name)))
		}
	}
	parts = append(parts, "cmd/luma/proxy.go:"+fileSum(t, filepath.Join("..", "cmd", "luma", "proxy.go")))
	sort.Strings(parts)
	h := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	return hex.EncodeToString(h[:])
}

func fileSum(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}
