package setup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
)

func revOpts(h *fake.Host, rev int) Options {
	o := opts(h, 8080)
	o.Revision, o.SupervisorRevision, o.Apps = rev, 1, []string{"web"}
	return o
}

// A luma whose proxy revision differs upgrades luma-proxy in place: the
// binary goes onto the state volume, the supervisor hands over, no
// container is created or stopped, and the deploy locks are held through
// it and released after.
func TestSetupUpgradesInPlace(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	creates, stops := h.Calls("Create"), h.Calls("Stop")
	h.SetUpgradeRevision(2)
	rep = lines{}
	locksBefore := h.Calls("Lock")
	if err := Server(ctx, "s1", h, h, revOpts(h, 2), &rep); err != nil {
		t.Fatalf("%v\n%s", err, rep.String())
	}
	if h.Calls("Create") != creates || h.Calls("Stop") != stops {
		t.Errorf("the container was replaced:\n%s", rep.String())
	}
	info, _ := h.Info(ctx)
	if info.Revision != 2 || !strings.HasPrefix(info.Binary, "/var/lib/luma-proxy/bin/luma-") {
		t.Errorf("proxy %+v", info)
	}
	if f, ok := h.FileOf("luma-proxy", info.Binary); !ok || f.Mode != 0o755 || len(f.Content) == 0 {
		t.Errorf("binary %s not copied in: %+v", info.Binary, f)
	}
	if !strings.Contains(rep.String(), "Upgrading luma-proxy in place (revision 1 → 2)") || !strings.Contains(rep.String(), "upgraded to revision 2 with no restart") {
		t.Errorf("lines:\n%s", rep.String())
	}
	if h.Calls("Lock") == locksBefore {
		t.Error("no deploy lock was held during the upgrade")
	}
	if locks, _ := h.Locks(ctx); len(locks) != 0 {
		t.Errorf("locks left: %+v", locks)
	}

	// The same revision in another binary: nothing to do.
	rep = lines{}
	if err := Server(ctx, "s1", h, h, revOpts(h, 2), &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "up to date (revision 2)") || h.Calls("PutFile") != 1 {
		t.Errorf("second run:\n%s", rep.String())
	}
}

// A new binary that fails to take over leaves the old proxy serving; the
// run says so and fails, and the locks are released.
func TestSetupFailedUpgradeKeepsTheOld(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	h.Inject(fake.Fault{Op: "Upgrade"})
	rep = lines{}
	err := Server(ctx, "s1", h, h, revOpts(h, 2), &rep)
	if err == nil || !strings.Contains(err.Error(), "luma-proxy was not upgraded, the running one keeps serving") {
		t.Fatalf("err %v\n%s", err, rep.String())
	}
	if info, _ := h.Info(ctx); info.Revision != 1 || info.Binary != "/luma" {
		t.Errorf("proxy %+v", info)
	}
	if locks, _ := h.Locks(ctx); len(locks) != 0 {
		t.Errorf("locks left: %+v", locks)
	}
}

// A luma-proxy from before the supervisor is replaced once, and says why.
func TestSetupReplacesAnUnsupervisedProxy(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	h.SetLabels("luma-proxy", map[string]string{naming.LabelProxySupervised: "", naming.LabelProxyRevision: ""})
	rep = lines{}
	if err := Server(ctx, "s1", h, h, revOpts(h, 2), &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "predates upgrades in place") {
		t.Errorf("lines:\n%s", rep.String())
	}
	if c, _ := h.Inspect(ctx, "luma-proxy"); c.Labels[naming.LabelProxySupervised] != "1" || c.Labels[naming.LabelProxyRevision] != "2" {
		t.Errorf("labels %v", c.Labels)
	}
}

// A dry run says what would change and why, and changes nothing.
func TestSetupDryRun(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	o := revOpts(h, 1)
	o.DryRun = true
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil || !strings.Contains(rep.String(), "Would start luma-proxy on port 8080") {
		t.Fatalf("%v\n%s", err, rep.String())
	}
	if h.Calls("Create")+h.Calls("EnsureNetwork")+h.Calls("BuildImage") != 0 {
		t.Fatal("a dry run changed the server")
	}
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    func(*Options)
		want string
	}{
		{func(o *Options) {}, "luma-proxy is up to date (revision 1): nothing to change"},
		{func(o *Options) { o.Revision = 2 }, "Would upgrade luma-proxy in place (revision 1 → 2), under the deploy locks, losing no request"},
		{func(o *Options) { o.HTTPPort = 9090 }, "Would replace luma-proxy, under the deploy locks: port 8080 → ports 8080, 9090 for project blog; published ports change only with a new container"},
	} {
		o := revOpts(h, 1)
		o.DryRun = true
		c.o(&o)
		rep = lines{}
		before := h.Calls("Create") + h.Calls("PutFile") + h.Calls("Upgrade") + h.Calls("Lock")
		if err := Server(ctx, "s1", h, h, o, &rep); err != nil || !strings.Contains(rep.String(), c.want) {
			t.Errorf("%v\n%s\nwant %q", err, rep.String(), c.want)
		}
		if h.Calls("Create")+h.Calls("PutFile")+h.Calls("Upgrade")+h.Calls("Lock") != before {
			t.Error("a dry run changed the server")
		}
	}
}

// A new supervisor (PID 1, which an upgrade in place keeps) needs a new
// container: setup replaces it and says why.
func TestSetupReplacesForANewSupervisor(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	o := revOpts(h, 2)
	o.SupervisorRevision = 2
	rep = lines{}
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "its supervisor changed (1 → 2)") || h.Calls("PutFile") != 0 {
		t.Errorf("lines:\n%s", rep.String())
	}
	if c, _ := h.Inspect(ctx, "luma-proxy"); c.Labels[naming.LabelProxySupervised] != "2" {
		t.Errorf("labels %v", c.Labels)
	}
}

// From a laptop whose luma cannot run on the server (a Mac's), the
// upgrade in place runs the binary of the luma-proxy image, pulled with
// the project's credentials: still no new container.
func TestSetupUpgradesInPlaceFromTheImage(t *testing.T) {
	ctx := context.Background()
	h := fake.NewHost("s1")
	var rep lines
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	creates := h.Calls("Create")
	reg := fake.NewRegistry("127.0.0.1:5000", "ci", "s3cret")
	reg.Add("127.0.0.1:5000/luma-proxy:1.2.3")
	h.UseRegistry(reg)
	h.SetImageFile("127.0.0.1:5000/luma-proxy:1.2.3", "/luma", []byte("the published linux binary"))
	h.SetUpgradeRevision(2)
	o := revOpts(h, 2)
	o.Exe, o.DefaultProxyImage = notLinux(t), "127.0.0.1:5000/luma-proxy:1.2.3"
	o.Registry = &drivers.RegistryAuth{Server: "127.0.0.1:5000", Username: "ci", Password: "s3cret"}
	rep = lines{}
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatalf("%v\n%s", err, rep.String())
	}
	info, _ := h.Info(ctx)
	f, _ := h.FileOf("luma-proxy", info.Binary)
	if h.Calls("Create") != creates || info.Revision != 2 || string(f.Content) != "the published linux binary" {
		t.Errorf("proxy %+v, binary %q, creates %d→%d\n%s", info, f.Content, creates, h.Calls("Create"), rep.String())
	}
	if !strings.Contains(rep.String(), "Upgrading luma-proxy in place (revision 1 → the one in 127.0.0.1:5000/luma-proxy:1.2.3)") || strings.Contains(rep.String(), "s3cret") {
		t.Errorf("lines:\n%s", rep.String())
	}
}

// A luma older than the running luma-proxy refuses to put its own in
// place unless told to (a teammate's older luma would silently undo an
// upgrade), changing nothing; with AllowDowngrade it goes back in place.
func TestSetupRefusesADowngrade(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, revOpts(h, 1), &rep); err != nil {
		t.Fatal(err)
	}
	h.SetUpgradeRevision(3)
	if err := Server(ctx, "s1", h, h, revOpts(h, 3), &rep); err != nil {
		t.Fatal(err)
	}
	before := map[string]int{}
	ops := []string{"Create", "Stop", "PutFile", "Upgrade", "Lock", "EnsureNetwork", "Connect"}
	for _, op := range ops {
		before[op] = h.Calls(op)
	}
	for _, dry := range []bool{true, false} {
		o := revOpts(h, 2)
		o.DryRun = dry
		err := Server(ctx, "s1", h, h, o, &rep)
		var down *DowngradeError
		if !errors.As(err, &down) || err.Error() != "luma-proxy runs revision 3, newer than this luma's (revision 2): a newer luma set it up; upgrade luma, or run `luma setup --allow-downgrade` to go back to revision 2" {
			t.Fatalf("dry run %v: err %v", dry, err)
		}
	}
	for _, op := range ops {
		if h.Calls(op) != before[op] {
			t.Errorf("a refused downgrade called %s", op)
		}
	}
	if info, _ := h.Info(ctx); info.Revision != 3 {
		t.Fatalf("revision %d after a refused downgrade", info.Revision)
	}

	h.SetUpgradeRevision(2)
	o := revOpts(h, 2)
	o.AllowDowngrade = true
	o.Exe = otherBinary(t) // revision 2's binary: not the one that runs
	rep = lines{}
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatalf("%v\n%s", err, rep.String())
	}
	if info, _ := h.Info(ctx); info.Revision != 2 || !strings.Contains(rep.String(), "Upgrading luma-proxy in place (revision 3 → 2)") {
		t.Fatalf("revision %d:\n%s", info.Revision, rep.String())
	}
}

// otherBinary is a copy of staticExe with other bytes: another luma build.
func otherBinary(t *testing.T) string {
	b, err := os.ReadFile(staticExe)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "luma")
	if err := os.WriteFile(path, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}
