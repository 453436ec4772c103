package e2e

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The shutdown semantics of docs/shutdown.md, end to end, with
// drain_timeout 2s and stop_timeout 3s: a request that ends within the
// drain completes; one that ends during the stop completes too (the app
// finishes in-flight requests on SIGTERM); one that outlives both gets a
// 504 from luma-proxy when the old container is killed, never a reset.
func TestShutdownSemantics(t *testing.T) {
	v1, v2 := images(t)
	a := newFapp(t, "faultdrain", "fdrain")
	const drain, stop = 2 * time.Second, 3 * time.Second
	a.write(t, spec{image: v1, drain: drain, stop: stop})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	c1 := a.activeColor(t)

	// luma is paused once the new version is healthy, so that the slow
	// requests start on the old one just before the switch.
	paused := make(chan struct{})
	s2 := spec{image: v2, drain: drain, stop: stop}
	a.write(t, s2)
	r := startLuma(t, a.dir, "passed health checks ✓", func(r *run) { r.signal(syscall.SIGSTOP); close(paused) }, "deploy", "--release", "r2")
	select {
	case <-paused:
	case <-time.After(30 * time.Second):
		t.Fatal("the health checks did not pass")
	}
	type answer struct {
		code    int
		body    string
		err     error
		elapsed time.Duration
		end     time.Time
	}
	slow := map[string]int{"within the drain": 1000, "within the stop": 3500, "beyond both": 30000}
	answers := map[string]*answer{}
	var wg sync.WaitGroup
	for name, ms := range slow {
		ans := &answer{}
		answers[name] = ans
		wg.Go(func() {
			start := time.Now()
			ans.code, ans.body, ans.err = get(a.host(), fmt.Sprintf("/slow?ms=%d", ms))
			ans.end = time.Now()
			ans.elapsed = ans.end.Sub(start)
		})
	}
	time.Sleep(300 * time.Millisecond) // they reach the old container
	switched := time.Now()
	r.signal(syscall.SIGCONT)
	res := r.wait(60 * time.Second)
	wg.Wait()
	if res.Code != 0 || !strings.Contains(res.Stdout, "2 request(s) still in flight on the old containers after 2s; stopping them anyway") {
		t.Errorf("deploy: exit %d, want 0 reporting the 2 requests still in flight after the drain", res.Code)
	}
	for _, name := range []string{"within the drain", "within the stop"} {
		if ans := answers[name]; ans.err != nil || ans.code != 200 || !strings.HasPrefix(ans.body, "slept") {
			t.Errorf("request %s: %d %v %q, want 200 from the app", name, ans.code, ans.err, ans.body)
		}
	}
	ans := answers["beyond both"]
	if ans.err != nil || ans.code != 504 || ans.body != "Gateway Timeout\n" {
		t.Errorf("request beyond drain and stop: %d %v %q, want 504 Gateway Timeout from luma-proxy", ans.code, ans.err, ans.body)
	}
	// It ends when the old container is killed, drain + stop after the
	// switch (give or take the deploy's own steps), not before.
	if end := ans.end.Sub(switched); end < drain+stop || end > drain+stop+5*time.Second {
		t.Errorf("request beyond drain and stop ended %s after the switch, want about %s", end, drain+stop)
	}
	t.Logf("beyond both: %d after %s", ans.code, ans.elapsed.Round(time.Millisecond))
	a.assertClean(t, s2, otherColor(c1), "r2", "deployed")
}
