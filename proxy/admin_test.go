package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/proxy/protocol"
)

// admin runs Admin with req as stdin against p's socket.
func (p *testProxy) admin(t *testing.T, stdin string) protocol.Response {
	t.Helper()
	var out bytes.Buffer
	if err := Admin(context.Background(), p.socket, strings.NewReader(stdin), &out); err != nil {
		t.Fatalf("admin: %v", err)
	}
	var resp protocol.Response
	if err := json.Unmarshal(out.Bytes(), &resp); err != nil {
		t.Fatalf("admin wrote %q: %v", out.String(), err)
	}
	return resp
}

func TestAdminRelaysOverSocket(t *testing.T) {
	p := startProxy(t, testOptions(t))
	if resp := p.admin(t, `{"op":"ping"}`); resp.Version != Version || resp.Error != "" {
		t.Fatalf("ping: %+v", resp)
	}
	web := addr(backend(t, "web"))
	if resp := p.admin(t, `{"op":"set_route","route":{"app":"demo/web","hosts":["web.test"],"targets":["`+web+`"]}}`); resp.Error != "" {
		t.Fatalf("set_route: %+v", resp)
	}
	if code, body := p.get(t, "http://web.test/"); code != 200 || body != "web" {
		t.Fatalf("routed by admin: %d %q", code, body)
	}
	if resp := p.admin(t, `{"op":"probe","target":"`+web+`","path":"/up","timeout":1000000000}`); resp.Probe == nil || resp.Probe.Status != 200 {
		t.Fatalf("probe: %+v", resp)
	}
	if resp := p.admin(t, `{"op":"load","project":"demo","app":"none"}`); resp.Kind != protocol.KindNotFound {
		t.Fatalf("load of missing record: %+v", resp)
	}
	p.admin(t, `{"op":"lock","key":"demo/web","holder":"alice","lease":60000000000}`)
	if resp := p.admin(t, `{"op":"lock","key":"demo/web","holder":"bob","lease":60000000000}`); resp.Kind != protocol.KindLocked || resp.Lock.Holder != "alice" {
		t.Fatalf("contended lock: %+v", resp)
	}
	if resp := p.admin(t, `{"op":"frobnicate"}`); !strings.Contains(resp.Error, "unknown admin op") {
		t.Fatalf("unknown op: %+v", resp)
	}
	// A malformed request is an answer, not a failure to reach the proxy.
	if resp := p.admin(t, `{"op":`); !strings.Contains(resp.Error, "bad admin request") {
		t.Fatalf("bad request: %+v", resp)
	}
}

func TestAdminFailsWhenProxyIsDown(t *testing.T) {
	var out bytes.Buffer
	err := Admin(context.Background(), filepath.Join(t.TempDir(), "none.sock"), strings.NewReader(`{"op":"ping"}`), &out)
	if err == nil || !strings.Contains(err.Error(), "not answering") {
		t.Fatalf("err = %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("wrote %q", out.String())
	}
}

func TestAdminSocketIsPrivate(t *testing.T) {
	p := startProxy(t, testOptions(t))
	fi, err := os.Stat(p.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode %v", fi.Mode())
	}
	if dir, _ := os.Stat(filepath.Dir(p.socket)); dir.Mode().Perm() != 0o700 {
		t.Fatalf("socket dir mode %v", dir.Mode())
	}
	// A second proxy on the same socket is refused.
	if ln, err := listenAdmin(p.socket); err == nil {
		ln.Close()
		t.Fatal("second listener on a live socket")
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	opts := testOptions(t)
	os.MkdirAll(filepath.Dir(opts.SocketPath), 0o700)
	ln, err := net.Listen("unix", opts.SocketPath)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // as a killed proxy leaves it
	if _, err := os.Stat(opts.SocketPath); err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, opts)
	if resp := p.admin(t, `{"op":"ping"}`); resp.Error != "" {
		t.Fatal(resp.Error)
	}
}

func TestRunShutsDownGracefully(t *testing.T) {
	opts := testOptions(t)
	opts.HTTPAddr = deadAddr(t) // a free port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts) }()
	p := &testProxy{addr: opts.HTTPAddr, socket: opts.SocketPath}
	eventually(t, "proxy up", func() bool {
		_, err := Call(context.Background(), opts.SocketPath, protocol.Request{Op: protocol.OpPing})
		return err == nil
	})
	blue, arrived, release := slowBackend(t, "blue")
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // a failure must not leave the backend's handler blocked
	if resp := p.admin(t, `{"op":"set_route","route":{"app":"demo/web","hosts":["web.test"],"targets":["`+blue+`"]}}`); resp.Error != "" {
		t.Fatal(resp.Error)
	}
	slow := p.getAsync("http://web.test/slow")
	<-arrived
	cancel()
	// Stopping for good, it keeps serving (new requests are answered, not
	// refused) until the request it had is done, closing each connection.
	eventually(t, "admin calls refused", func() bool {
		_, err := Call(context.Background(), opts.SocketPath, protocol.Request{Op: protocol.OpPing})
		return err != nil
	})
	res, err := p.client().Get("http://web.test/fast")
	if err != nil {
		t.Fatalf("a request while stopping: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !res.Close {
		t.Fatalf("a request while stopping: %d, Connection: close %v", res.StatusCode, res.Close)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	free()
	if got := <-slow; got != "200 blue" {
		t.Fatalf("in-flight request = %q", got)
	}
	eventually(t, "listener closed", func() bool {
		c, err := net.Dial("tcp", opts.HTTPAddr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(opts.SocketPath); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
	if st, _, _ := readState(opts.StatePath); len(st.Routes) != 1 {
		t.Fatalf("state not saved: %+v", st)
	}
}
