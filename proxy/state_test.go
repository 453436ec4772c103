package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// sickBackend serves traffic but fails its health check.
func sickBackend(t *testing.T, name string) string {
	srv := handlerBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/up" {
			w.WriteHeader(500)
			return
		}
		fmt.Fprint(w, name)
	})
	return addr(srv)
}

func TestStateSurvivesRestart(t *testing.T) {
	opts := testOptions(t)
	ctx := context.Background()
	healthy, sick, lone := addr(backend(t, "healthy")), sickBackend(t, "sick"), sickBackend(t, "lone")

	p1 := startProxy(t, opts)
	p1.setRoute(t, "demo/two", []string{"two.test"}, healthy, sick)
	p1.setRoute(t, "demo/one", []string{"one.test"}, lone)
	for _, req := range []protocol.Request{
		{Op: protocol.OpLock, Key: "demo/two", Holder: "alice", Lease: time.Hour},
		{Op: protocol.OpSave, Record: &machine.Record{Project: "demo", App: "two", Server: "s1", State: machine.Draining}},
	} {
		if resp := p1.handle(ctx, req); resp.Error != "" {
			t.Fatal(resp.Error)
		}
	}
	p1.stop()
	checkStateFile(t, opts.StatePath)
	corrupt(t, opts.StatePath)

	opts.SocketPath = shortSocketPath(t)
	p2 := startProxy(t, opts)
	routes := p2.router.Routes()
	if len(routes) != 2 || routes[0].App != "demo/one" || routes[1].App != "demo/two" || len(routes[1].Targets) != 2 {
		t.Fatalf("restored routes %+v", routes)
	}
	if resp := p2.handle(ctx, protocol.Request{Op: protocol.OpLock, Key: "demo/two", Holder: "bob", Lease: time.Hour}); resp.Kind != protocol.KindLocked || resp.Lock.State != machine.Draining {
		t.Fatalf("restored lock not held: %+v", resp)
	}
	if resp := p2.handle(ctx, protocol.Request{Op: protocol.OpLoad, Project: "demo", App: "two"}); resp.Error != "" || resp.Record.State != machine.Draining {
		t.Fatalf("restored record: %+v", resp)
	}
	if n := len(p2.store.Locks()) + len(p2.store.Records()); n != 2 {
		t.Fatalf("corrupt entries were restored: %d locks+records", n)
	}

	// No target of demo/one is known healthy: it is tried rather than 503.
	if code, body := p2.get(t, "http://one.test/"); code != 200 || body != "lone" {
		t.Fatalf("lone restored target: %d %q", code, body)
	}
	// demo/two: once the healthy target passed its probe, the one that
	// fails its health check gets no traffic.
	eventually(t, "restored target probed", func() bool {
		return p2.router.lookup("demo/two", []string{healthy})[0].healthy.Load()
	})
	for range 20 {
		if _, body := p2.get(t, "http://two.test/"); body != "healthy" {
			t.Fatalf("unprobed target %q got traffic", body)
		}
	}
}

// checkStateFile: private, complete, no temp file left behind.
func checkStateFile(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state dir holds %d files, want only the state", len(entries))
	}
}

// corrupt adds one bad entry of each kind to the state file.
func corrupt(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Version                int
		Routes, Locks, Records []json.RawMessage
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	st.Routes = append(st.Routes, json.RawMessage(`"garbage"`), json.RawMessage(`{"app":"x","targets":["no-port"]}`))
	st.Locks = append(st.Locks, json.RawMessage(`{"key":5}`))
	st.Records = append(st.Records, json.RawMessage(`{"project":""}`), json.RawMessage(`[1]`))
	data, _ = json.Marshal(st)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadableStateIsKeptAsideAndProxyStarts(t *testing.T) {
	opts := testOptions(t)
	os.MkdirAll(filepath.Dir(opts.StatePath), 0o700)
	os.WriteFile(opts.StatePath, []byte(`{"routes": [`), 0o600)
	p := startProxy(t, opts)
	if r := p.router.Routes(); len(r) != 0 {
		t.Fatalf("routes from a broken file: %+v", r)
	}
	kept, _ := filepath.Glob(opts.StatePath + ".corrupt-*")
	if len(kept) != 1 {
		t.Fatalf("broken state file not kept aside: %v", kept)
	}
	p.setRoute(t, "demo/web", []string{"web.test"}, "web-blue:80")
	if st, skipped, err := readState(opts.StatePath); err != nil || len(skipped) != 0 || len(st.Routes) != 1 {
		t.Fatalf("state after a change: %+v %v %v", st, skipped, err)
	}
}

func TestForgetIsPersisted(t *testing.T) {
	opts := testOptions(t)
	ctx := context.Background()
	p1 := startProxy(t, opts)
	for _, req := range []protocol.Request{
		{Op: protocol.OpSave, Record: &machine.Record{Project: "demo", App: "gone", Server: "s1", State: machine.Idle}},
		{Op: protocol.OpSave, Record: &machine.Record{Project: "demo", App: "kept", Server: "s1", State: machine.Idle}},
		{Op: protocol.OpForget, Project: "demo", App: "gone"},
		{Op: protocol.OpForget, Project: "demo", App: "never"}, // no error: safe to repeat
	} {
		if resp := p1.handle(ctx, req); resp.Error != "" {
			t.Fatalf("%s: %s", req.Op, resp.Error)
		}
	}
	if resp := p1.handle(ctx, protocol.Request{Op: protocol.OpForget, App: "gone"}); resp.Error == "" {
		t.Fatal("forget without a project was accepted")
	}
	p1.stop()

	opts.SocketPath = shortSocketPath(t)
	p2 := startProxy(t, opts)
	if resp := p2.handle(ctx, protocol.Request{Op: protocol.OpLoad, Project: "demo", App: "gone"}); resp.Kind != protocol.KindNotFound {
		t.Fatalf("forgotten record came back after a restart: %+v", resp)
	}
	if recs := p2.store.Records(); len(recs) != 1 || recs[0].App != "kept" {
		t.Fatalf("records after restart = %+v", recs)
	}
}

// What a newer luma-proxy wrote is kept: an older proxy (an older luma's
// setup downgrades in place) writes it back, so going back and forth loses
// nothing.
func TestUnknownStateIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(path, []byte(`{"version":1,"routes":[],"locks":[],"records":[],"future":{"a":[1,2]},"events":[]}`), 0o600)
	st, _, err := readState(path)
	if err != nil || string(st.Unknown["future"]) != `{"a":[1,2]}` {
		t.Fatalf("read %+v %v", st.Unknown, err)
	}
	if err := writeState(path, st); err != nil {
		t.Fatal(err)
	}
	again, _, _ := readState(path)
	if strings.Join(strings.Fields(string(again.Unknown["future"])), "") != `{"a":[1,2]}` {
		t.Fatalf("written back: %s", again.Unknown["future"])
	}
}
