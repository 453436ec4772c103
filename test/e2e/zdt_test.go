package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestZeroDowntimeShort is the short run of the zero-downtime benchmark
// (bench/zerodowntime): constant-rate mixed traffic through luma-proxy
// while luma deploys three times in a row, alternating two versions. The
// mix has the bodies that once lost requests (8 KiB and 64 KiB POSTs, with
// Content-Length and chunked, echoed byte for byte) beside GETs, fresh
// connections, 256 KiB downloads and slow requests, and the app closes
// idle connections after 1s; with replicas 1, bursts separated by 1s idle
// gaps go first, at rest. The program exits non-zero on any failed
// request; the full runs and their numbers are in docs/benchmarks.md.
func TestZeroDowntimeShort(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	for _, replicas := range []int{1, 3} {
		bursts := 0
		if replicas == 1 {
			bursts = 6
		}
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "zdt")
			build := exec.Command("go", "build", "-o", bin, "./bench/zerodowntime")
			build.Dir = testenv.RepoRoot()
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("build bench: %v\n%s", err, out)
			}
			project := fmt.Sprintf("zdtshort%d", replicas)
			removeProject(t, project)
			cmd := exec.Command(bin, "-luma", lumaBin, "-images", v1+","+v2, "-project", project,
				"-replicas", fmt.Sprint(replicas), "-deploys", "3", "-rate", "200", "-baseline", "0",
				"-slow-ms", "1500", "-port", fmt.Sprint(proxyPort),
				"-mix", "get,fresh,post-8k,post-64k,download,slow", "-app-keepalive", "1s",
				"-bursts", fmt.Sprint(bursts), "-burst-size", "32")
			cmd.Env = os.Environ()
			out, err := cmd.CombinedOutput()
			t.Logf("%s", out)
			if err != nil {
				t.Fatalf("zero-downtime run failed: %v", err)
			}
		})
	}
}
