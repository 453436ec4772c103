package multiserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/testenv"
)

// TestUpgradeThreeServers: `luma setup` with a luma of another proxy
// revision, then back, while every server's luma-proxy takes traffic:
// each is upgraded in place (same container) and no request fails.
func TestUpgradeThreeServers(t *testing.T) {
	other, err := testenv.BuildLumaRevision(t.TempDir(), 9001)
	if err != nil {
		t.Fatal(err)
	}
	v1 := testenv.BuildHello(t, "v1")
	p := newProject(t, "msupgrade")
	p.write(t, v1)
	mustLuma(t, p.dir, "setup")
	mustLuma(t, p.dir, "deploy", "--release", "r1")
	ids := make([]string, len(servers))
	for i := range servers {
		ids[i] = docker(t, i, "inspect", "-f", "{{.Id}}", naming.ProxyContainer)
	}
	t.Cleanup(func() { luma(t, p.dir, "setup", "--allow-downgrade") }) // back to the other tests' revision, whatever happened

	stop := loadAll(t, p.hosts[0])
	r := testenv.Run(t, other, p.dir, "setup")
	// Going back is a downgrade: refused on every server, with nothing
	// changed, unless asked for.
	refused := luma(t, p.dir, "setup")
	back := mustLuma(t, p.dir, "setup", "--allow-downgrade")
	stop()
	if refused.Code == 0 || !strings.Contains(refused.Stderr, "nothing was changed") {
		t.Errorf("setup with an older luma was not refused:\n%s", refused)
	}
	for _, s := range servers {
		if !strings.Contains(refused.Stderr, fmt.Sprintf("[%s] luma-proxy runs revision 9001, newer than this luma's", s)) {
			t.Errorf("the refusal does not name %s:\n%s", s, refused)
		}
	}
	if r.Code != 0 {
		t.Fatalf("setup with the upgraded luma:\n%s", r)
	}
	for i, s := range servers {
		for _, want := range []string{
			fmt.Sprintf("[%s] luma-proxy upgraded to revision 9001 with no restart", s),
		} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("upgrade output lacks %q:\n%s", want, r.Stdout)
			}
		}
		if !strings.Contains(back.Stdout, fmt.Sprintf("[%s] luma-proxy upgraded to revision", s)) {
			t.Errorf("the way back was not an upgrade in place on %s:\n%s", s, back.Stdout)
		}
		if id := docker(t, i, "inspect", "-f", "{{.Id}}", naming.ProxyContainer); id != ids[i] {
			t.Errorf("[%s] luma-proxy's container was replaced", s)
		}
	}
	p.assertServing(t, "blue", "v1", "r1")
}
