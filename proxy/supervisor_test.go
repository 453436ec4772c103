package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/testenv"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// supervised is `luma proxy run` as a process: the supervisor and its
// child, on a free port of 127.0.0.1, with its state in a temp dir.
type supervised struct {
	cmd    *exec.Cmd
	addr   string
	socket string
	state  string
	luma   string
	out    *testenv.Buffer
}

func startSupervised(t *testing.T) *supervised {
	t.Helper()
	testenv.SkipShort(t, "building luma and running it as processes")
	dir := t.TempDir()
	luma, err := testenv.BuildLuma(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sp := &supervised{addr: addr, socket: shortSocketPath(t), state: filepath.Join(dir, "state", "state.json"), luma: luma, out: &testenv.Buffer{}}
	sp.cmd = exec.Command(luma, "proxy", "run", "--http", addr, "--https", "", "--state", sp.state, "--socket", sp.socket)
	sp.cmd.Stdout, sp.cmd.Stderr = sp.out, sp.out
	if err := sp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sp.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- sp.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			sp.cmd.Process.Kill()
			t.Errorf("the supervisor did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("luma-proxy's log:\n%s", sp.out.String())
		}
	})
	eventually(t, "the supervised proxy to answer", func() bool { _, err := sp.call(protocol.Request{Op: protocol.OpPing}); return err == nil })
	return sp
}

func (sp *supervised) call(req protocol.Request) (protocol.Response, error) {
	resp, err := Call(context.Background(), sp.socket, req)
	if err == nil && resp.Error != "" {
		err = fmt.Errorf("%s", resp.Error)
	}
	return resp, err
}

// install copies the luma binary into the state volume's bin directory
// under name, as luma setup does.
func (sp *supervised) install(t *testing.T, name string, content []byte) string {
	t.Helper()
	if content == nil {
		var err error
		if content, err = os.ReadFile(sp.luma); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(BinDir(sp.state), name)
	os.MkdirAll(filepath.Dir(path), 0o700)
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// upgrade asks for an upgrade to path and waits until the proxy that
// answers runs it, or until timeout.
func (sp *supervised) upgrade(t *testing.T, path string, timeout time.Duration) (string, error) {
	t.Helper()
	if _, err := sp.call(protocol.Request{Op: protocol.OpUpgrade, Path: path}); err != nil {
		return "", err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r, err := sp.call(protocol.Request{Op: protocol.OpPing}); err == nil && r.Binary == path {
			return r.Binary, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	r, _ := sp.call(protocol.Request{Op: protocol.OpPing})
	return r.Binary, fmt.Errorf("still %s after %s", r.Binary, timeout)
}

// steadyLoad sends keep-alive GETs, POSTs with bodies, fresh-connection
// GETs and slow requests through the proxy until stop, counting failures.
type steadyLoad struct {
	sent, failed atomic.Int64
	mu           sync.Mutex
	errs         []string
	wg           sync.WaitGroup
}

func runLoad(addr, host string, stop <-chan struct{}) *steadyLoad {
	l := &steadyLoad{}
	keep := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 20 * time.Second}
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	body := bytes.Repeat([]byte("x"), 64<<10)
	kinds := []func() (*http.Response, error){
		func() (*http.Response, error) { return keep.Get("http://" + addr + "/") },
		func() (*http.Response, error) {
			return keep.Post("http://"+addr+"/echo", "application/octet-stream", bytes.NewReader(body))
		},
		func() (*http.Response, error) { return fresh.Get("http://" + addr + "/") },
		func() (*http.Response, error) { return keep.Get("http://" + addr + "/slow") },
	}
	for w := 0; w < 8; w++ {
		l.wg.Go(func() {
			for i := w; ; i += 8 { // worker 3 and 7 send the slow ones
				select {
				case <-stop:
					return
				default:
				}
				l.sent.Add(1)
				res, err := kinds[i%len(kinds)]()
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != 200 {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, err.Error())
					l.mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	return l
}

// upApp routes every host of the supervised proxy to a backend that
// answers /, echoes /echo and takes 1.5 s on /slow.
func (sp *supervised) upApp(t *testing.T) {
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			io.Copy(w, r.Body)
		case "/slow":
			time.Sleep(1500 * time.Millisecond)
			io.WriteString(w, "slow")
		default:
			io.WriteString(w, "ok")
		}
	})
	if _, err := sp.call(protocol.Request{Op: protocol.OpSetRoute, Route: &drivers.Route{App: "t/app", Targets: []string{addr(srv)}}}); err != nil {
		t.Fatal(err)
	}
}

// TestUpgradeInPlaceLosesNoRequest: under steady load (keep-alive and
// fresh connections, 64 KiB POSTs, slow requests), the supervisor hands
// over to a new binary twice; no request fails, the routes carry over,
// and a lock taken before the upgrade is still held after it.
func TestUpgradeInPlaceLosesNoRequest(t *testing.T) {
	sp := startSupervised(t)
	sp.upApp(t)
	if _, err := sp.call(protocol.Request{Op: protocol.OpLock, Key: "t/app", Holder: "setup", Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	l := runLoad(sp.addr, "", stop)
	time.Sleep(500 * time.Millisecond)
	for _, name := range []string{"luma-a", "luma-b"} {
		start := time.Now()
		if _, err := sp.upgrade(t, sp.install(t, name, nil), 30*time.Second); err != nil {
			t.Fatalf("upgrade to %s: %v", name, err)
		}
		t.Logf("upgrade to %s took over admin calls in %s", name, time.Since(start).Round(time.Millisecond))
		time.Sleep(700 * time.Millisecond)
	}
	close(stop)
	l.wg.Wait()
	if l.failed.Load() > 0 || l.sent.Load() < 100 {
		t.Errorf("%d of %d requests failed: %v", l.failed.Load(), l.sent.Load(), l.errs)
	}
	t.Logf("%d requests, %d failed", l.sent.Load(), l.failed.Load())
	r, err := sp.call(protocol.Request{Op: protocol.OpRoutes})
	if err != nil || len(r.Routes) != 1 {
		t.Errorf("routes after the upgrades: %+v %v", r.Routes, err)
	}
	_, err = sp.call(protocol.Request{Op: protocol.OpLock, Key: "t/app", Holder: "someone else", Lease: time.Minute})
	if !strings.Contains(fmt.Sprint(err), "setup") {
		t.Errorf("the lock did not carry over: %v", err)
	}
	if st, err := sp.call(protocol.Request{Op: protocol.OpUpgradeStatus}); err != nil || !st.Upgrade.OK {
		t.Errorf("upgrade status %+v %v", st.Upgrade, err)
	}
}

// TestFailedUpgradeKeepsTheOldProxy: a binary that cannot start is
// refused; the running proxy keeps serving and says why.
func TestFailedUpgradeKeepsTheOldProxy(t *testing.T) {
	sp := startSupervised(t)
	sp.upApp(t)
	before, _ := sp.call(protocol.Request{Op: protocol.OpPing})
	bad := sp.install(t, "luma-broken", []byte("#!/bin/sh\necho broken >&2\nexit 3\n"))
	stop := make(chan struct{})
	l := runLoad(sp.addr, "", stop)
	if _, err := sp.upgrade(t, bad, 3*time.Second); err == nil {
		t.Fatal("the broken binary took over")
	}
	eventually(t, "the failure on record", func() bool {
		st, err := sp.call(protocol.Request{Op: protocol.OpUpgradeStatus})
		return err == nil && st.Upgrade.Binary == bad && !st.Upgrade.OK && st.Upgrade.Error != ""
	})
	close(stop)
	l.wg.Wait()
	if after, _ := sp.call(protocol.Request{Op: protocol.OpPing}); after.Binary != before.Binary {
		t.Errorf("serves %s, was %s", after.Binary, before.Binary)
	}
	if l.failed.Load() > 0 {
		t.Errorf("%d of %d requests failed: %v", l.failed.Load(), l.sent.Load(), l.errs)
	}
}

// TestCrashedProxyRestartsOnTheSameSockets: the proxy process killed
// with SIGKILL is started again by the supervisor; a request sent right
// after the kill waits in the socket's backlog and is answered.
func TestCrashedProxyRestartsOnTheSameSockets(t *testing.T) {
	sp := startSupervised(t)
	sp.upApp(t)
	child := childPID(t, sp.cmd.Process.Pid)
	syscall.Kill(child, syscall.SIGKILL)
	start := time.Now()
	res, err := (&http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + sp.addr + "/")
	if err != nil {
		t.Fatalf("request after the crash: %v", err)
	}
	res.Body.Close()
	t.Logf("answered %s after the kill", time.Since(start).Round(time.Millisecond))
	if res.StatusCode != 200 {
		t.Errorf("status %d", res.StatusCode)
	}
	if c := childPID(t, sp.cmd.Process.Pid); c == child {
		t.Error("the same child still runs")
	}
}

// childPID finds the one child process of pid.
func childPID(t *testing.T, pid int) int {
	t.Helper()
	var found int
	eventually(t, "a child of the supervisor", func() bool {
		found = 0
		dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, d := range dirs {
			b, err := os.ReadFile(d)
			if err != nil {
				continue
			}
			// pid (comm) state ppid ...: comm may hold spaces, so read
			// after its closing parenthesis.
			rest := string(b[bytes.LastIndexByte(b, ')')+1:])
			var state string
			var ppid, self int
			fmt.Sscan(rest, &state, &ppid)
			fmt.Sscanf(d, "/proc/%d/stat", &self)
			if ppid == pid {
				found = self
			}
		}
		return found != 0
	})
	return found
}
