package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// shortLease is the lease of runs a test kills, so the next run takes over
// in seconds rather than the default 30s. Not shorter: after the kill a
// test checks that a new luma is refused while it lasts (at least two
// thirds of it: renewals come every third), and starting luma on a loaded
// CI machine took over the 2 s that a 3 s lease left.
const shortLease = "6s"

// fapp is one fault test's project: one app with short health checks,
// drain and stop timeouts, on the local engine unless ssh is set.
type fapp struct {
	project, name, server, ssh, dir string
}

// newFapp makes a project whose containers, network, route and foreign
// containers named like its app are removed at cleanup.
func newFapp(t *testing.T, project, name string) *fapp {
	t.Helper()
	a := &fapp{project: project, name: name, server: "localhost", dir: t.TempDir()}
	removeProject(t, project)
	t.Cleanup(func() {
		// Containers named like the app but not labelled (foreign ones).
		for _, c := range []string{"blue", "green"} {
			for _, n := range []string{"", "-1", "-2"} {
				exec.Command("docker", "rm", "-f", project+"-"+name+"-"+c+n).Run()
			}
		}
		if _, err := adminCall(protocol.Request{Op: protocol.OpRemoveRoute, App: a.key()}); err != nil {
			t.Logf("cleanup: remove route: %v", err)
		}
	})
	return a
}

func (a *fapp) host() string { return a.project + ".test" }
func (a *fapp) key() string  { return a.project + "/" + a.name }

// spec is what one deploy of the app looks like.
type spec struct {
	image       string
	replicas    int // 1 when 0
	env         []string
	command     []string
	startPeriod time.Duration // 2s when 0
	drain, stop time.Duration // 3s when 0
}

// names are the container names of color for s.
func (s spec) names(app, color string) []string {
	if s.replicas <= 1 {
		return []string{app + "-" + color}
	}
	out := make([]string, s.replicas)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%s-%d", app, color, i+1)
	}
	return out
}

func quote(list []string) string { return testenv.Quote(list) }

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// write writes luma.yml for s.
func (a *fapp) write(t *testing.T, s spec) {
	t.Helper()
	replicas := max(s.replicas, 1)
	command := ""
	if len(s.command) > 0 {
		command = fmt.Sprintf("    command: [%s]\n", quote(s.command))
	}
	yml := fmt.Sprintf(`name: %s
%s
proxy:
  http_port: %d
apps:
  %s:
    image: %s
    servers: [%q]
    replicas: %d
%s    environment:
      plain: [%s]
    proxy:
      hosts: [%q]
      app_port: 3000
    health_check:
      start_period: %s
      interval: 300ms
      timeout: 1s
      retries: 2
    drain_timeout: %s
    stop_timeout: %s
`, a.project, a.ssh, proxyPort, a.name, s.image, a.server, replicas, command, quote(s.env), a.host(),
		or(s.startPeriod, 2*time.Second), or(s.drain, 3*time.Second), or(s.stop, 3*time.Second))
	if err := os.WriteFile(filepath.Join(a.dir, "luma.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
}

// adminCall sends one request to luma-proxy's admin command, as luma does,
// through the docker CLI.
func adminCall(req protocol.Request) (protocol.Response, error) {
	in, _ := json.Marshal(req)
	cmd := exec.Command("docker", "exec", "-i", "luma-proxy", "/luma", "proxy", "admin")
	cmd.Stdin = bytes.NewReader(in)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	if err != nil {
		return protocol.Response{}, fmt.Errorf("luma proxy admin %s: %v: %s", req.Op, err, errb.String())
	}
	var resp protocol.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		return resp, fmt.Errorf("luma proxy admin %s: %v: %s", req.Op, err, out)
	}
	return resp, nil
}

func admin(t *testing.T, req protocol.Request) protocol.Response {
	t.Helper()
	resp, err := adminCall(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// record is the app's machine record in luma-proxy's store.
func (a *fapp) record(t *testing.T) machine.Record {
	t.Helper()
	resp := admin(t, protocol.Request{Op: protocol.OpLoad, Project: a.project, App: a.name})
	if resp.Record == nil {
		t.Fatalf("no record for %s: %s", a.key(), resp.Error)
	}
	return *resp.Record
}

// route is the app's route in luma-proxy, nil when there is none.
func (a *fapp) route(t *testing.T) *drivers.Route {
	t.Helper()
	for _, r := range admin(t, protocol.Request{Op: protocol.OpRoutes}).Routes {
		if r.App == a.key() {
			return &r
		}
	}
	return nil
}

// lock is the app's deploy lock, live or expired, nil when there is none.
func (a *fapp) lock(t *testing.T) *drivers.Lock {
	t.Helper()
	for _, l := range admin(t, protocol.Request{Op: protocol.OpLocks}).Locks {
		if l.Key == a.key() {
			return &l
		}
	}
	return nil
}

// waitState polls the record (one docker exec each, tens of ms) until it
// is in state, which must happen within d.
func (a *fapp) waitState(t *testing.T, state machine.State, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last machine.State
	for time.Now().Before(deadline) {
		resp, err := adminCall(protocol.Request{Op: protocol.OpLoad, Project: a.project, App: a.name})
		if err == nil && resp.Record != nil {
			if last = resp.Record.State; last == state {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("record of %s not in %s within %s (last %q)", a.key(), state, d, last)
}

// waitLeaseExpired waits until the app's lock, held by a dead run, has
// expired.
func (a *fapp) waitLeaseExpired(t *testing.T) {
	t.Helper()
	l := a.lock(t)
	if l == nil {
		return
	}
	if wait := time.Until(l.Expires); wait > 0 {
		if wait > 10*time.Second {
			t.Fatalf("lock %s expires in %s: the killed run's --lease was not applied", a.key(), wait)
		}
		time.Sleep(wait + 100*time.Millisecond)
	}
}

// statusDoc is `luma status --json`.
type statusDoc struct {
	Project string
	Apps    []struct {
		App, Status, Active, Release string
		Running, Desired             int
		Servers                      []struct {
			Name, State, Active, Release, Deploy, Outcome string
			LastError                                     string `json:"last_error"`
			Lock                                          *drivers.Lock
		}
		Advice []string
	}
}

// status runs `luma status --json` and returns the app's server entry
// with the app's verdict.
func (a *fapp) status(t *testing.T) statusDoc {
	t.Helper()
	r := mustLuma(t, a.dir, "status", "--json")
	var doc statusDoc
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Apps) != 1 || len(doc.Apps[0].Servers) != 1 {
		t.Fatalf("status --json: %v\n%s", err, r.Stdout)
	}
	return doc
}

// activeColor is the color status reports as active.
func (a *fapp) activeColor(t *testing.T) string {
	t.Helper()
	c := a.status(t).Apps[0].Active
	if c != "blue" && c != "green" {
		t.Fatalf("no active color in status")
	}
	return c
}

func otherColor(c string) string {
	if c == "blue" {
		return "green"
	}
	return "blue"
}

// assertStopped checks what status says of a run that died in state,
// once its lease expired: the state, that it was interrupted before or
// after the switch, and which color serves.
func (a *fapp) assertStopped(t *testing.T, state machine.State, active string) {
	t.Helper()
	doc := a.status(t)
	app, srv := doc.Apps[0], doc.Apps[0].Servers[0]
	side := "before"
	if machine.Switched(state) {
		side = "after"
	}
	want := fmt.Sprintf("interrupted in %s %s the switch", state, side)
	if state == machine.Switching { // the route may have moved: status says where traffic is
		want = "interrupted in switching, traffic on " + active
	}
	if srv.State != string(state) || !strings.Contains(srv.Deploy, want) || srv.Active != active || app.Active != active || srv.Lock != nil {
		t.Errorf("status --json after a run died in %s: state %q active %q/%q deploy %q lock %v; want state %s, active %s, %q, no lock",
			state, srv.State, srv.Active, app.Active, srv.Deploy, srv.Lock, state, active, want)
	}
	if app.Status != "MIXED" {
		t.Errorf("status = %s, want MIXED while a dead run awaits recovery", app.Status)
	}
	text := mustLuma(t, a.dir, "status").Stdout
	if !strings.Contains(text, want) || !strings.Contains(text, "(active: "+active+")") {
		t.Errorf("status text lacks %q or the active color %s:\n%s", want, active, text)
	}
}

// assertClean checks that exactly color's containers of s exist, only they
// carry the app alias, the route targets them with nothing draining, no
// lock is held, the record is idle, status agrees and the proxy serves
// release rel from color.
func (a *fapp) assertClean(t *testing.T, s spec, color, rel, outcome string) {
	t.Helper()
	want := s.names(a.project+"-"+a.name, color)
	if got := containers(t, a.project, a.name); !slices.Equal(got, want) {
		t.Errorf("containers = %v, want %v", got, want)
	}
	if out := docker(t, "ps", "-a", "--filter", "name=^"+a.project+"-"+a.name+"-"+otherColor(color), "--format", "{{.Names}}"); out != "" {
		t.Errorf("containers of the other color left: %s", out)
	}
	for _, name := range want {
		aliases := docker(t, "inspect", "-f", fmt.Sprintf(`{{json (index .NetworkSettings.Networks "%s-network").Aliases}}`, a.project), name)
		if !strings.Contains(aliases, fmt.Sprintf("%q", a.name)) {
			t.Errorf("%s aliases %s lack %q", name, aliases, a.name)
		}
	}
	rt := a.route(t)
	var targets []string
	for _, n := range want {
		targets = append(targets, n+":3000")
	}
	if rt == nil || !slices.Equal(sorted(rt.Targets), targets) || len(rt.Draining) > 0 {
		t.Errorf("route = %+v, want targets %v and nothing draining", rt, targets)
	}
	if l := a.lock(t); l != nil {
		t.Errorf("lock left: %+v", *l)
	}
	rec := a.record(t)
	if rec.State != machine.Idle || rec.Active != color || rec.Release != rel || rec.Outcome != outcome {
		t.Errorf("record = state %s active %s release %s outcome %s (%s); want idle, %s, %s, %s",
			rec.State, rec.Active, rec.Release, rec.Outcome, rec.Error, color, rel, outcome)
	}
	doc := a.status(t)
	app, srv := doc.Apps[0], doc.Apps[0].Servers[0]
	if app.Status != "RUNNING" || app.Active != color || app.Release != rel || srv.State != "idle" || srv.Deploy != "" || srv.Lock != nil {
		t.Errorf("status --json = %+v, want RUNNING, idle, active %s, release %s", app, color, rel)
	}
	for range 3 {
		if v := version(t, a.host()); v["color"] != color || v["release"] != rel {
			t.Errorf("proxy served %v, want color %s release %s", v, color, rel)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// assertRolledBack checks a deploy that failed before the switch: exit 3,
// the failure line, and nothing left of it.
func (a *fapp) assertRolledBack(t *testing.T, r result, s spec, color, rel string, lines ...string) {
	t.Helper()
	if r.Code != 3 {
		t.Errorf("exit %d, want 3 (rolled back)", r.Code)
	}
	for _, l := range append(lines, "Rolled back: "+color+" containers still serve") {
		if !strings.Contains(r.Stdout+r.Stderr, l) {
			t.Errorf("output lacks %q", l)
		}
	}
	a.assertClean(t, s, color, rel, "rolled_back")
	srv := a.status(t).Apps[0].Servers[0]
	if srv.LastError == "" || srv.Outcome != "rolled_back" {
		t.Errorf("status --json: outcome %q, last error %q; want rolled_back with the reason", srv.Outcome, srv.LastError)
	}
}

// load is a small background load of GETs through luma-proxy: keep-alive
// clients and fresh-connection clients, counting failures by kind.
type load struct {
	base, host string // base: scheme://authority of every request
	stop       chan struct{}
	wg         sync.WaitGroup

	mu      sync.Mutex
	ok      int
	fails   map[string]int
	samples []string
}

// startLoad starts the load over plain HTTP; end or check ends it.
func startLoad(host string) *load {
	keepAlive := &http.Client{Timeout: 10 * time.Second}
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return startLoadWith(fmt.Sprintf("http://127.0.0.1:%d", proxyPort), host, keepAlive, fresh)
}

// startLoadWith starts the load to base with the given clients (two
// goroutines share keepAlive, one uses fresh).
func startLoadWith(base, host string, keepAlive, fresh *http.Client) *load {
	l := &load{base: base, host: host, stop: make(chan struct{}), fails: map[string]int{}}
	for _, c := range []*http.Client{keepAlive, keepAlive, fresh} {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.one(c)
				time.Sleep(15 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *load) one(c *http.Client) {
	req, _ := http.NewRequest("GET", l.base+"/", nil)
	req.Host = l.host
	resp, err := c.Do(req)
	kind, detail := "", ""
	if err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case rerr != nil:
			kind, detail = "body: "+errKind(rerr), rerr.Error()
		case resp.StatusCode != 200:
			kind, detail = fmt.Sprintf("status %d", resp.StatusCode), string(body)
		case !strings.HasPrefix(string(body), "hello from"):
			kind, detail = "not the app", string(body)
		}
	} else {
		kind, detail = errKind(err), err.Error()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if kind == "" {
		l.ok++
		return
	}
	l.fails[kind]++
	if len(l.samples) < 5 {
		l.samples = append(l.samples, time.Now().Format("15:04:05.000")+" "+detail)
	}
}

func errKind(err error) string {
	var ne net.Error
	switch s := err.Error(); {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "connection reset"):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(s, "EOF"):
		return "EOF"
	}
	return "other error"
}

// end stops the load and returns its counts.
func (l *load) end() (ok int, fails map[string]int, samples []string) {
	close(l.stop)
	l.wg.Wait()
	return l.ok, l.fails, l.samples
}

// check stops the load and fails the test on any failed request.
func (l *load) check(t *testing.T, what string) {
	t.Helper()
	ok, fails, samples := l.end()
	n := 0
	for _, c := range fails {
		n += c
	}
	t.Logf("load during %s: %d ok, %d failed %v", what, ok, n, fails)
	if n > 0 {
		t.Errorf("load during %s: %d request(s) failed: %v; first: %s", what, n, fails, strings.Join(samples, " | "))
	}
	if ok == 0 {
		t.Errorf("load during %s: no request succeeded", what)
	}
}

// run is a luma process started in the background.
type run struct {
	t    *testing.T
	cmd  *exec.Cmd
	args []string
	out  *lineWriter
	errb bytes.Buffer
	done chan struct{}
	res  result
}

// lineWriter keeps stdout and calls on for the first line containing when,
// from the copying goroutine, so the test acts within a millisecond or so
// of luma printing it.
type lineWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	when    string
	on      func()
	partial string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	w.partial += string(p)
	var fire func()
	for {
		i := strings.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := w.partial[:i]
		w.partial = w.partial[i+1:]
		if w.on != nil && strings.Contains(line, w.when) {
			fire, w.on = w.on, nil
		}
	}
	w.mu.Unlock()
	if fire != nil {
		fire()
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startLuma runs luma in the background; when a stdout line contains when
// (if not empty), on is called with the run at once.
func startLuma(t *testing.T, dir, when string, on func(*run), args ...string) *run {
	t.Helper()
	r := &run{t: t, args: args, out: &lineWriter{when: when}, done: make(chan struct{})}
	if on != nil {
		r.out.on = func() { on(r) }
	}
	r.cmd = exec.Command(lumaBin, args...)
	r.cmd.Dir = dir
	r.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	r.cmd.Stdout, r.cmd.Stderr = r.out, &r.errb
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start luma %v: %v", args, err)
	}
	go func() {
		err := r.cmd.Wait()
		r.res = result{Stdout: r.out.String(), Stderr: r.errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.res.Code = ee.ExitCode()
			if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
				r.res.Code = 128 + int(st.Signal())
			}
		}
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *run) signal(sig syscall.Signal) {
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Errorf("signal %v to luma: %v", sig, err)
	}
}

// wait waits for the run to end, up to d.
func (r *run) wait(d time.Duration) result {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		r.cmd.Process.Kill()
		<-r.done
		r.t.Fatalf("luma %v did not end within %s:\n%s", r.args, d, r.res)
	}
	r.t.Logf("luma %s → exit %d\n%s%s", strings.Join(r.args, " "), r.res.Code, r.res.Stdout, r.res.Stderr)
	return r.res
}

// kill kills the run with SIGKILL and waits for it.
func (r *run) kill() result {
	r.signal(syscall.SIGKILL)
	res := r.wait(10 * time.Second)
	if res.Code != 128+int(syscall.SIGKILL) {
		r.t.Fatalf("luma ended with %d before it could be killed", res.Code)
	}
	return res
}

// images are the test images, built once per test process.
func images(t *testing.T) (v1, v2 string) {
	return testenv.BuildHello(t, "v1"), testenv.BuildHello(t, "v2")
}
