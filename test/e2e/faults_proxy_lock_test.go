package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// luma-proxy restarted between deploys and during one: its routes, locks
// and records come back from its state volume, and no request is lost in
// the deploys around the restarts. Requests that hit the restart itself
// (the proxy process is gone for about a second) cannot succeed: they are
// counted apart and logged, not asserted.
func TestProxyRestarted(t *testing.T) {
	v1, v2 := images(t)
	a := newFapp(t, "faultproxy", "fproxy")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	c1 := a.activeColor(t)
	before := a.route(t)

	// Between deploys.
	restartProxy(t, a)
	if rt := a.route(t); rt == nil || !slices.Equal(rt.Targets, before.Targets) || !slices.Equal(rt.Hosts, before.Hosts) {
		t.Fatalf("route after the restart = %+v, want %+v", rt, before)
	}
	if rec := a.record(t); rec.State != machine.Idle || rec.Active != c1 || rec.Release != "r1" {
		t.Fatalf("record after the restart: %+v", rec)
	}
	l := startLoad(a.host())
	s2 := spec{image: v2}
	a.write(t, s2)
	mustLuma(t, a.dir, "deploy", "--release", "r2")
	l.check(t, "the deploy after the restart")
	a.assertClean(t, s2, otherColor(c1), "r2", "deployed")

	// During health_checking: the probes that fail while the proxy is
	// down fall in the start period and do not count.
	l = startLoad(a.host())
	s3 := spec{image: v1, env: []string{"UP_AFTER=4s"}, startPeriod: 15 * time.Second}
	a.write(t, s3)
	r := startLuma(t, a.dir, "", nil, "deploy", "--release", "r3")
	a.waitState(t, machine.HealthChecking, 30*time.Second)
	l.check(t, "the deploy before the restart")
	restartProxy(t, a)
	l = startLoad(a.host())
	if res := r.wait(60 * time.Second); res.Code != 0 {
		t.Errorf("deploy across the restart: exit %d, want 0", res.Code)
	}
	l.check(t, "the deploy after the restart")
	a.assertClean(t, s3, c1, "r3", "deployed")
}

// restartProxy restarts luma-proxy under a load of its own and waits until
// it serves the app again; the requests of that window are only logged.
func restartProxy(t *testing.T, a *fapp) {
	t.Helper()
	l := startLoad(a.host())
	start := time.Now()
	if out, err := exec.Command("docker", "restart", "luma-proxy").CombinedOutput(); err != nil {
		t.Fatalf("docker restart luma-proxy: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := adminCall(protocol.Request{Op: protocol.OpPing}); err == nil {
			if code, _, err := get(a.host(), "/"); err == nil && code == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("luma-proxy does not serve the app again after its restart")
		}
	}
	ok, fails, samples := l.end()
	t.Logf("restart window (%s): %d ok, failed %v (requests that hit the restart itself cannot succeed) %s",
		time.Since(start).Round(time.Millisecond), ok, fails, strings.Join(samples, " | "))
}

// Two deploys of one app at once: exactly one proceeds; the other fails at
// once with exit 5 naming the holder, since when and its state, or with
// --lock-wait waits for it and then deploys.
func TestConcurrentDeploys(t *testing.T) {
	v1, v2 := images(t)
	a := newFapp(t, "faultlock", "flock")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	c1 := a.activeColor(t)

	l := startLoad(a.host())
	a.write(t, spec{image: v2, env: []string{"UP_AFTER=2s"}, startPeriod: 10 * time.Second})
	first := startLuma(t, a.dir, "", nil, "deploy", "--release", "r2")
	a.waitState(t, machine.HealthChecking, 30*time.Second)
	since := a.lock(t).Since.Format(time.RFC3339)

	second := luma(t, a.dir, "deploy", "--release", "r3")
	want := fmt.Sprintf("deploy lock for faultlock/flock held by %s since %s (state health_checking)", holderOf(first), since)
	if second.Code != 5 || !strings.Contains(second.Stderr, want) {
		t.Errorf("second deploy: exit %d, want 5 with %q", second.Code, want)
	}
	waiting := startLuma(t, a.dir, "", nil, "deploy", "--release", "r3", "--lock-wait", "30s")
	if res := first.wait(60 * time.Second); res.Code != 0 {
		t.Errorf("first deploy: exit %d, want 0", res.Code)
	}
	res := waiting.wait(60 * time.Second)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Waiting for the deploy lock held by "+holderOf(first)) {
		t.Errorf("waiting deploy: exit %d, want 0 after waiting for %s", res.Code, holderOf(first))
	}
	if strings.Contains(res.Stdout, "Recovering") {
		t.Errorf("the waiting deploy found something to recover: the first one did not finish before it")
	}
	l.check(t, "the concurrent deploys")
	// The waiting deploy wrote luma.yml's spec at its start: v2 with UP_AFTER.
	a.assertClean(t, spec{image: v2}, c1, "r3", "deployed")
}
