package multiserver

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/luma-deploy/luma/internal/testenv"
)

// TestDeployThreeServers deploys v1 to three servers, then v2 under load
// through every server's proxy: not one request may fail, and every server
// switches to v2.
func TestDeployThreeServers(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	p := newProject(t, "msdeploy")
	p.write(t, v1)
	r := mustLuma(t, p.dir, "setup")
	for _, s := range servers {
		if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] Ready: luma-proxy serving on port %d ✓\n", s, proxyPort)) {
			t.Errorf("setup output lacks the ready line of %s", s)
		}
	}
	r = mustLuma(t, p.dir, "deploy", "--release", "r1")
	assertReadable(t, r.Stdout)
	for _, s := range servers {
		for _, line := range []string{
			fmt.Sprintf("[%s] Sending image %s to the server: ", s, v1),
			fmt.Sprintf("[%s] All 2 containers passed health checks ✓", s),
			fmt.Sprintf("[%s] Blue-green deployment completed successfully ✅", s),
			fmt.Sprintf("[%s] deployed in ", s),
		} {
			if !strings.Contains(r.Stdout, line) {
				t.Errorf("deploy output lacks %q", line)
			}
		}
	}
	if !strings.Contains(r.Stdout, "Summary of "+p.app+" r1 (") {
		t.Errorf("deploy output lacks the summary")
	}
	p.assertServing(t, "blue", "v1", "r1")

	p.write(t, v2)
	stop := loadAll(t, p.hosts[0])
	r = mustLuma(t, p.dir, "deploy", "--release", "r2")
	time.Sleep(300 * time.Millisecond) // load keeps going after the switch
	stop()
	assertReadable(t, r.Stdout)
	p.assertServing(t, "green", "v2", "r2")
}

// loadAll sends requests through every server's proxy until the returned
// function is called; any failed request fails the test.
func loadAll(t *testing.T, host string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg     sync.WaitGroup
		ok     atomic.Int64
		failed atomic.Int64
		mu     sync.Mutex
		first  []string
	)
	for i := range servers {
		for range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					code, body, err := get(ctx, i, host, "/version")
					if ctx.Err() != nil {
						return
					}
					if err != nil || code != 200 {
						failed.Add(1)
						mu.Lock()
						if len(first) < 5 {
							first = append(first, fmt.Sprintf("[%s] %d %v %q", servers[i], code, err, body))
						}
						mu.Unlock()
						continue
					}
					ok.Add(1)
				}
			})
		}
	}
	return func() {
		cancel()
		wg.Wait()
		t.Logf("load: %d requests ok, %d failed", ok.Load(), failed.Load())
		if failed.Load() > 0 {
			t.Errorf("%d request(s) failed during the deploy, e.g. %v", failed.Load(), first)
		}
		if ok.Load() == 0 {
			t.Errorf("no request got through")
		}
	}
}

// TestUnhealthyOnOneServer kills a new container on one server during the
// health checks: every server rolls back and keeps v1, nothing of the new
// version is left anywhere.
func TestUnhealthyOnOneServer(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	p := newProject(t, "msunhealthy")
	p.write(t, v1)
	mustLuma(t, p.dir, "setup")
	mustLuma(t, p.dir, "deploy", "--release", "r1")

	// v2 is healthy only 3s after it starts, which leaves time to kill one
	// of its containers on server 2: the app dies there, as on a server
	// with a bad disk or too little memory.
	p.write(t, v2, "UP_AFTER=3s")
	done := make(chan struct{})
	killed := make(chan string, 1)
	go func() {
		defer close(killed)
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			out, _ := exec.Command("docker", "-H", dockerHost(1), "ps", "-q", "--filter", "name=^"+p.name+"-"+p.app+"-green-1$").Output()
			if id := strings.TrimSpace(string(out)); id != "" {
				out, err := exec.Command("docker", "-H", dockerHost(1), "kill", id).CombinedOutput()
				killed <- fmt.Sprintf("%s %v", out, err)
				return
			}
		}
	}()
	r := luma(t, p.dir, "deploy", "--release", "r2")
	close(done)
	t.Logf("kill: %s", <-killed)
	if r.Code != 3 {
		t.Fatalf("deploy exit = %d, want 3 (rolled back)\n%s", r.Code, r)
	}
	assertReadable(t, r.Stdout)
	if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] Health check failed for %s-%s-green-1", servers[1], p.name, p.app)) {
		t.Errorf("output does not say %s-%s-green-1 failed on %s", p.name, p.app, servers[1])
	}
	for _, s := range servers {
		if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] rolled back", s)) {
			t.Errorf("summary lacks the rollback of %s", s)
		}
	}
	p.assertServing(t, "blue", "v1", "r1")
}

// TestUnreachableServer stops one server's sshd: the deploy fails before
// anything changes anywhere, naming the server, and status flags it.
func TestUnreachableServer(t *testing.T) {
	v1 := testenv.BuildHello(t, "v1")
	// A tag of its own, to tell that it reached no server.
	v2 := testenv.HelloImage + ":unreachable"
	if out, err := exec.Command("docker", "tag", testenv.BuildHello(t, "v2"), v2).CombinedOutput(); err != nil {
		t.Fatalf("docker tag: %v\n%s", err, out)
	}
	p := newProject(t, "msunreach")
	p.write(t, v1)
	mustLuma(t, p.dir, "setup")
	mustLuma(t, p.dir, "deploy", "--release", "r1")

	script := filepath.Join(testenv.RepoRoot(), "test", "servers")
	if out, err := exec.Command(script, "stop-sshd", "3").CombinedOutput(); err != nil {
		t.Fatalf("stop sshd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(script, "up", "3").CombinedOutput(); err != nil {
			t.Errorf("restart sshd: %v\n%s", err, out)
		}
	})
	before := snapshot(t, p)
	p.write(t, v2)
	r := luma(t, p.dir, "deploy", "--release", "r2")
	if r.Code == 0 {
		t.Fatalf("deploy with an unreachable server succeeded:\n%s", r)
	}
	if !strings.Contains(r.Stderr, "["+servers[2]+"]") || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Errorf("error does not name %s or say nothing changed:\n%s", servers[2], r.Stderr)
	}
	if after := snapshot(t, p); after != before {
		t.Errorf("servers changed:\nbefore %s\nafter  %s", before, after)
	}
	for i := range 2 {
		if out, _ := exec.Command("docker", "-H", dockerHost(i), "image", "inspect", v2).CombinedOutput(); !strings.Contains(string(out), "No such image") {
			t.Errorf("[%s] has %s", servers[i], v2)
		}
		if v := version(t, i, p.hosts[0]); v["release"] != "r1" {
			t.Errorf("[%s] serves %v", servers[i], v)
		}
	}

	st := luma(t, p.dir, "status")
	for _, want := range []string{"MIXED", "[" + servers[2] + "] unreachable"} {
		if !strings.Contains(st.Stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, st.Stdout)
		}
	}
}

// snapshot is every container of p on the reachable servers, with its ID
// and state, and each server's luma-proxy routes and records.
func snapshot(t *testing.T, p *project) string {
	t.Helper()
	var b strings.Builder
	for i := range 2 {
		fmt.Fprintf(&b, "[%s] %s | ", servers[i], docker(t, i, "ps", "-a", "--filter", "label=luma.project="+p.name,
			"--format", "{{.ID}} {{.Names}} {{.State}}"))
		fmt.Fprintf(&b, "%s | ", docker(t, i, "network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", p.name+"-network"))
	}
	return b.String()
}

// TestSwapFailsOnOneServer makes the route swap fail on server 2 (another
// project starts serving one of the new hosts there while the deploy
// creates its containers, after luma deploy checked the hosts): the
// servers that swapped swap back and all three keep serving v1.
func TestSwapFailsOnOneServer(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	squat := newProject(t, "mssquat")
	squat.servers = servers[1:2]
	squat.write(t, v1)
	mustLuma(t, squat.dir, "setup")
	mustLuma(t, squat.dir, "deploy", "--release", "s1")

	p := newProject(t, "msswap")
	p.write(t, v1)
	mustLuma(t, p.dir, "setup")
	mustLuma(t, p.dir, "deploy", "--release", "r1")

	// v2 also claims taken.test, which server 2 gives to the squatter
	// once the deploy is past its checks.
	p.hosts = []string{"msswap.test", "taken.test"}
	p.write(t, v2)
	r := runWhen(t, p.dir, fmt.Sprintf("[%s] Creating container", servers[1]), func() {
		route := (`{"op":"set_route","route":{"app":"mssquat/taken","hosts":["taken.test"],"targets":["mssquat-mssquat-blue-1:3000","mssquat-mssquat-blue-2:3000"],"health_path":"/up"}}`)
		cmd := exec.Command("docker", "-H", dockerHost(1), "exec", "-i", "luma-proxy", "/luma", "proxy", "admin")
		cmd.Stdin = strings.NewReader(route)
		if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), `"error"`) {
			t.Errorf("squat taken.test on %s: %v %s", servers[1], err, out)
		}
	}, "deploy", "--release", "r2")
	p.hosts = p.hosts[:1]
	if r.Code != 3 {
		t.Fatalf("deploy exit = %d, want 3 (rolled back)\n%s", r.Code, r)
	}
	assertReadable(t, r.Stdout)
	if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] Failed to switch traffic", servers[1])) {
		t.Errorf("output lacks the failed switch on %s", servers[1])
	}
	for _, i := range []int{0, 2} {
		if !strings.Contains(r.Stdout, fmt.Sprintf("[%s] Switching traffic back to blue containers...", servers[i])) {
			t.Errorf("output lacks the switch back on %s", servers[i])
		}
	}
	p.assertServing(t, "blue", "v1", "r1")
	if v := version(t, 1, "taken.test"); v["release"] != "s1" {
		t.Errorf("taken.test on %s now serves %v", servers[1], v)
	}
	for _, i := range []int{0, 2} {
		if code, _, err := get(context.Background(), i, "taken.test", "/version"); err != nil || code != 404 {
			t.Errorf("[%s] taken.test: %d %v, want 404 (never routed there)", servers[i], code, err)
		}
	}
}

// TestKilledAfterSwitchConverges kills luma as soon as any server serves
// v2, i.e. after some servers swapped, and checks that the next deploy
// brings every server to the same version.
func TestKilledAfterSwitchConverges(t *testing.T) {
	v1, v2 := testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
	p := newProject(t, "mskill")
	p.write(t, v1)
	mustLuma(t, p.dir, "setup")
	mustLuma(t, p.dir, "deploy", "--release", "r1")

	p.write(t, v2)
	cmd := exec.Command(lumaBin, "deploy", "--release", "r2", "--lease", "5s")
	cmd.Dir = p.dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Watch every server's proxy; kill at the first answer from v2.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := make(chan int, len(servers))
	for i := range servers {
		go func() {
			for ctx.Err() == nil {
				if _, body, err := get(ctx, i, p.hosts[0], "/version"); err == nil && strings.Contains(body, `"release":"r2"`) {
					first <- i
					return
				}
				time.Sleep(5 * time.Millisecond) // not a busy loop: it starved the deploy it watches
			}
		}()
	}
	select {
	case i := <-first:
		cmd.Process.Signal(syscall.SIGKILL)
		t.Logf("killed luma once %s served r2", servers[i])
	case <-ctx.Done():
		cmd.Process.Kill()
		t.Fatalf("no server served r2:\n%s", out.String())
	}
	cancel()
	cmd.Wait()
	t.Logf("killed run's output:\n%s", out.String())
	// A swap already on its way when luma died still lands: let it.
	time.Sleep(time.Second)
	luma(t, p.dir, "status") // what a user sees now; logged
	st := p.status(t).Apps[0]
	colors := map[string]bool{}
	for i, s := range st.Servers {
		v := version(t, i, p.hosts[0])
		colors[v["color"]] = true
		if s.Active != v["color"] || s.Release != v["release"] {
			t.Errorf("status says %s serves %s %s, its proxy serves %v", s.Name, s.Active, s.Release, v)
		}
	}
	t.Logf("after the kill the servers serve %d color(s); status %s", len(colors), st.Status)
	if len(colors) > 1 && st.Status != "MIXED" {
		t.Errorf("status with servers on different colors = %s, want MIXED", st.Status)
	}

	r := mustLuma(t, p.dir, "deploy", "--release", "r3", "--lock-wait", "30s")
	assertReadable(t, r.Stdout)
	if !strings.Contains(r.Stdout, "Recovering: the deploy of r2") {
		t.Errorf("the next deploy does not say it recovers r2")
	}
	color := p.status(t).Apps[0].Active
	if color != "blue" && color != "green" {
		t.Fatalf("after the converging deploy the active color is %q", color)
	}
	p.assertServing(t, color, "v2", "r3")
}

// runWhen runs luma in dir and calls do, once, as soon as a line of its
// output contains when.
func runWhen(t *testing.T, dir, when string, do func(), args ...string) result {
	t.Helper()
	cmd := exec.Command(lumaBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	done := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		stdout.WriteString(sc.Text() + "\n")
		if !done && strings.Contains(sc.Text(), when) {
			done = true
			do()
		}
	}
	res := result{Stdout: stdout.String()}
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			res.Code = ee.ExitCode()
		}
	}
	res.Stderr = stderr.String()
	if !done {
		t.Errorf("luma %v never printed %q", args, when)
	}
	return res
}
