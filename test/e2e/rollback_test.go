package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/history"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// TestRollbackUnderLoad is a team's bad day: r1 then r2 deployed, r2 is
// bad, `luma rollback` puts r1 back with no request failing, from the
// image still on the server (no transfer); an unknown release is refused
// with the known ones; a rollback whose old release no longer starts
// (the config changed under it) rolls itself back and r1 keeps serving;
// `luma releases` and `luma status --history` tell the whole story.
func TestRollbackUnderLoad(t *testing.T) {
	v1, v2 := images(t)
	start := time.Now()
	a := newFapp(t, "e2erb", "web")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	a.write(t, spec{image: v2})
	mustLuma(t, a.dir, "deploy", "--release", "r2")
	if v := version(t, a.host()); v["release"] != "r2" {
		t.Fatalf("serving %v, want r2", v)
	}

	l := startLoad(a.host())
	r := mustLuma(t, a.dir, "rollback", "web")
	l.check(t, "rollback to r1")
	for _, want := range []string{
		"Rolling back web from r2 to r1 (image " + v1 + ")",
		"Image of r1 is on every server: no transfer",
		"Blue-green deployment completed successfully",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("no %q in\n%s", want, r.Stdout)
		}
	}
	if v := version(t, a.host()); v["release"] != "r1" || v["version"] != "v1" {
		t.Fatalf("after the rollback serving %v, want r1 of v1", v)
	}

	r = luma(t, a.dir, "rollback", "web", "--to", "r9")
	if r.Code != 2 || !strings.Contains(r.Stderr, "Error: release r9 of web is unknown: known releases are r1, r2") || !strings.Contains(r.Stderr, "nothing was changed") {
		t.Fatalf("unknown release:\n%s", r)
	}
	// r1 is the oldest: a rollback from it has nowhere to go.
	if r = luma(t, a.dir, "rollback", "web"); r.Code != 1 || !strings.Contains(r.Stderr, "web has no release before r1") {
		t.Fatalf("rollback from the first release:\n%s", r)
	}

	// The app's configuration now makes r2's image crash: going back to
	// it fails its health check and rolls itself back; r1 serves on.
	a.write(t, spec{image: v1, env: []string{"CRASH=1"}})
	l = startLoad(a.host())
	r = luma(t, a.dir, "rollback", "web", "--to", "r2")
	l.check(t, "a failed rollback")
	if r.Code != 3 || !strings.Contains(r.Stdout, "Rolling back web from r1 to r2") || !strings.Contains(r.Stdout, "rolled back") {
		t.Fatalf("a rollback to a release that no longer starts:\n%s", r)
	}
	if v := version(t, a.host()); v["release"] != "r1" {
		t.Fatalf("after the failed rollback serving %v, want r1", v)
	}

	r = mustLuma(t, a.dir, "releases", "web", "--json")
	var doc struct {
		Live map[string]string
		Runs []history.Run
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("releases --json: %v\n%s", err, r.Stdout)
	}
	var got []string
	for _, run := range doc.Runs {
		if run.At.Before(start) {
			continue // an earlier run of this test: luma-proxy keeps the history
		}
		got = append(got, run.Kind+" "+run.Release+" "+run.Outcome)
		if run.Who == "" || run.At.IsZero() || len(run.Servers) != 1 || run.Servers[0].ImageID == "" {
			t.Errorf("run %+v", run)
		}
	}
	want := "rollback r2 rolled_back,rollback r1 deployed,deploy r2 deployed,deploy r1 deployed"
	if strings.Join(got, ",") != want || doc.Live["localhost"] != "r1" {
		t.Fatalf("releases: %s, live %v; want %s, live r1", strings.Join(got, ","), doc.Live, want)
	}
	r = mustLuma(t, a.dir, "releases", "web")
	t.Logf("luma releases web:\n%s", r.Stdout)
	if !strings.Contains(r.Stdout, "rollback  r1 (live)") || !strings.Contains(r.Stdout, "[localhost] ") {
		t.Errorf("releases:\n%s", r.Stdout)
	}
}

// TestLockRelease: a deploy lock left by a holder that is gone for good
// (here one with an hour's lease) is shown by `luma lock status`, blocks
// deploys with exit 5, and `luma lock release --force` takes it away,
// says when it would have expired, and records it in the history.
func TestLockRelease(t *testing.T) {
	v1, _ := images(t)
	a := newFapp(t, "e2elock", "web")
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	admin(t, protocol.Request{Op: protocol.OpLock, Key: a.key(), Holder: "bob@desk pid 4242", Lease: time.Hour})
	t.Cleanup(func() { adminCall(protocol.Request{Op: protocol.OpUnlock, Key: a.key(), Holder: "bob@desk pid 4242"}) })

	r := mustLuma(t, a.dir, "lock", "status")
	if !strings.Contains(r.Stdout, "[localhost] web: held by bob@desk pid 4242 since") || !strings.Contains(r.Stdout, "lease renewed until") {
		t.Fatalf("lock status:\n%s", r.Stdout)
	}
	if r = luma(t, a.dir, "deploy", "--release", "r2"); r.Code != 5 {
		t.Fatalf("deploy past a held lock exited %d:\n%s", r.Code, r)
	}
	if r = luma(t, a.dir, "lock", "release", "web"); r.Code != 2 || !strings.Contains(r.Stderr, "add --force") {
		t.Fatalf("release without --force:\n%s", r)
	}
	r = mustLuma(t, a.dir, "lock", "release", "web", "--force")
	if !strings.Contains(r.Stdout, "[localhost] Released the deploy lock of web held by bob@desk pid 4242 since") ||
		!strings.Contains(r.Stdout, "its lease would have expired anyway at") {
		t.Fatalf("release:\n%s", r.Stdout)
	}
	r = mustLuma(t, a.dir, "lock", "status", "--json")
	var locks struct{ Locks []drivers.Lock }
	if err := json.Unmarshal([]byte(r.Stdout), &locks); err != nil || len(locks.Locks) != 0 {
		t.Fatalf("locks after the release: %v\n%s", err, r.Stdout)
	}
	mustLuma(t, a.dir, "deploy", "--release", "r2")
	r = mustLuma(t, a.dir, "status", "--history")
	if !strings.Contains(r.Stdout, "lock_release") || !strings.Contains(r.Stdout, "took the lock from bob@desk pid 4242") || !strings.Contains(r.Stdout, " setup ") {
		t.Fatalf("status --history:\n%s", r.Stdout)
	}
}
