package prune

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

var ctx = context.Background()

// build makes release rel of project/app on h as internal/deploy's build
// does (labelled, tagged <project>-<app>:<rel>), a minute after the last.
func build(t *testing.T, h *fake.Host, project, app, rel string) string {
	t.Helper()
	h.Clock().Advance(time.Minute)
	ref := project + "-" + app + ":" + rel
	labels := map[string]string{naming.LabelProject: project, naming.LabelApp: app, naming.LabelRelease: rel}
	if err := h.BuildImage(ctx, drivers.BuildSpec{Tag: ref, Labels: labels}, nil); err != nil {
		t.Fatal(err)
	}
	return ref
}

// releases builds r1..rn of shop/web.
func releases(t *testing.T, h *fake.Host, n int) []string {
	var refs []string
	for i := 1; i <= n; i++ {
		refs = append(refs, build(t, h, "shop", "web", fmt.Sprintf("r%d", i)))
	}
	return refs
}

// have lists which of refs h still has.
func have(t *testing.T, h *fake.Host, refs ...string) []string {
	t.Helper()
	var out []string
	for _, r := range refs {
		if ok, _ := h.HasImage(ctx, r); ok {
			out = append(out, r)
		}
	}
	return out
}

var web = App{Project: "shop", Name: "web", Keep: 3}

// Exactly the newest N releases stay; the result and its line say what
// went.
func TestKeepsExactlyN(t *testing.T) {
	h := fake.NewHost("server1")
	refs := releases(t, h, 7)
	res, err := Run(ctx, Target{Name: "server1", Engine: h, Records: h}, web)
	if err != nil {
		t.Fatal(err)
	}
	if got := have(t, h, refs...); !slices.Equal(got, refs[4:]) {
		t.Errorf("left %v, want %v", got, refs[4:])
	}
	if len(res.Removed) != 4 || res.Freed != 4*fake.ImageSize || !slices.Equal(res.Kept, []string{"r7", "r6", "r5"}) {
		t.Errorf("result %+v", res)
	}
	if want := "Removed 4 old images of web (40 MB freed)"; res.Line() != want {
		t.Errorf("line %q, want %q", res.Line(), want)
	}
	// Again: nothing left to remove, nothing to say.
	res, err = Run(ctx, Target{Name: "server1", Engine: h, Records: h}, web)
	if err != nil || len(res.Removed) != 0 || res.Line() != "" {
		t.Errorf("second run: %+v, %v, line %q", res, err, res.Line())
	}
}

// An image a container uses, running or not, stays however old it is;
// it does not count among the N newest.
func TestImageInUseStays(t *testing.T) {
	h := fake.NewHost("server1")
	refs := releases(t, h, 6)
	for i, ref := range refs[:2] {
		spec := drivers.ContainerSpec{Name: fmt.Sprintf("web-blue-%d", i), Image: ref}
		if err := h.Create(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Start(ctx, "web-blue-0"); err != nil { // r1 runs, r2 is only created
		t.Fatal(err)
	}
	if _, err := Run(ctx, Target{Name: "server1", Engine: h}, web); err != nil {
		t.Fatal(err)
	}
	want := []string{refs[0], refs[1], refs[3], refs[4], refs[5]}
	if got := have(t, h, refs...); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
}

// Images Luma did not make, and those of other apps and projects, are
// never touched, whatever their age.
func TestForeignImagesUntouched(t *testing.T) {
	h := fake.NewHost("server1")
	h.AddImage("nginx:1.27", "shop-web:handmade") // no labels: not Luma's
	other := []string{
		build(t, h, "shop", "api", "r1"), build(t, h, "shop", "api", "r2"),
		build(t, h, "blog", "web", "r1"), build(t, h, "blog", "web", "r2"),
	}
	// Labelled for the app but without a release: not a build of Luma's.
	h.Clock().Advance(time.Minute)
	h.BuildImage(ctx, drivers.BuildSpec{Tag: "shop-web:norelease", Labels: map[string]string{naming.LabelProject: "shop", naming.LabelApp: "web"}}, nil)
	refs := releases(t, h, 3)
	res, err := Run(ctx, Target{Name: "server1", Engine: h}, App{Project: "shop", Name: "web", Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	keep := append([]string{"nginx:1.27", "shop-web:handmade", "shop-web:norelease"}, other...)
	if got := have(t, h, keep...); !slices.Equal(got, keep) {
		t.Errorf("foreign images left %v, want all of %v", got, keep)
	}
	if got := have(t, h, refs...); !slices.Equal(got, refs[2:]) || len(res.Removed) != 2 {
		t.Errorf("app images left %v (removed %d), want %v", got, len(res.Removed), refs[2:])
	}
}

// The deploy record's release and the previous one stay even when they
// are not among the newest (e.g. a release built again earlier), and
// nothing is pruned while a deploy is not at rest.
func TestDeployRecord(t *testing.T) {
	h := fake.NewHost("server1")
	refs := releases(t, h, 5)
	rec := machine.Record{Project: "shop", App: "web", State: machine.Idle, Release: "r5", Previous: "r1"}
	if err := h.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	res, err := Run(ctx, Target{Name: "server1", Engine: h, Records: h}, App{Project: "shop", Name: "web", Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{refs[0], refs[3], refs[4]}
	if got := have(t, h, refs...); !slices.Equal(got, want) || !slices.Equal(res.Kept, []string{"r5", "r4", "r1"}) {
		t.Errorf("left %v kept %v, want %v", got, res.Kept, want)
	}

	build(t, h, "shop", "web", "r6")
	rec.State = machine.State("switching")
	h.Save(ctx, rec)
	res, err = Run(ctx, Target{Name: "server1", Engine: h, Records: h}, App{Project: "shop", Name: "web", Keep: 1})
	if err != nil || res.Skipped == "" || len(res.Removed) != 0 || h.Calls("RemoveImage") != 2 {
		t.Errorf("during a deploy: %+v, %v, %d removals", res, err, h.Calls("RemoveImage"))
	}
}

// A rebuild of a release under its tag leaves the old image untagged: it
// goes unless a container uses it.
func TestUntaggedImages(t *testing.T) {
	h := fake.NewHost("server1")
	ref := build(t, h, "shop", "web", "r1")
	if err := h.Create(ctx, drivers.ContainerSpec{Name: "web-blue", Image: ref}); err != nil {
		t.Fatal(err)
	}
	build(t, h, "shop", "web", "r1") // in use, now untagged
	build(t, h, "shop", "web", "r1") // untagged, unused
	res, err := Run(ctx, Target{Name: "server1", Engine: h}, web)
	if err != nil || len(res.Removed) != 1 || len(res.Removed[0].Refs) != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	left, _ := h.ListImages(ctx, map[string]string{naming.LabelApp: "web"})
	if len(left) != 2 || len(left[0].Refs) != 0 || !slices.Equal(left[1].Refs, []string{ref}) {
		t.Errorf("left %+v, want the one in use and the tagged one", left)
	}
}

// An image the engine refuses because a container took it since the
// listing stays, silently; another engine error is reported, and the
// other images still go.
func TestRemovalRefusedOrFailing(t *testing.T) {
	h := fake.NewHost("server1")
	refs := releases(t, h, 4)
	h.Inject(
		fake.Fault{Op: "RemoveImage", Match: refs[0], Err: fmt.Errorf("image is being used: %w", drivers.ErrConflict)},
		fake.Fault{Op: "RemoveImage", Match: refs[1], Err: errors.New("engine on fire")},
	)
	res, err := Run(ctx, Target{Name: "server1", Engine: h}, App{Project: "shop", Name: "web", Keep: 1})
	if err == nil || err.Error() != "engine on fire" {
		t.Errorf("err %v, want the engine's failure", err)
	}
	if len(res.Removed) != 1 || !slices.Equal(res.Removed[0].Refs, []string{refs[2]}) {
		t.Errorf("removed %+v, want only %s", res.Removed, refs[2])
	}
	if got := have(t, h, refs...); !slices.Equal(got, []string{refs[0], refs[1], refs[3]}) {
		t.Errorf("left %v", got)
	}
}

// A failure to read the record or the engine prunes nothing.
func TestReadFailures(t *testing.T) {
	for _, op := range []string{"Load", "ListImages", "List"} {
		h := fake.NewHost("server1")
		refs := releases(t, h, 3)
		h.Inject(fake.Fault{Op: op})
		if _, err := Run(ctx, Target{Name: "server1", Engine: h, Records: h}, App{Project: "shop", Name: "web", Keep: 1}); !errors.Is(err, fake.ErrInjected) {
			t.Errorf("%s failing: err %v", op, err)
		}
		if got := have(t, h, refs...); len(got) != 3 {
			t.Errorf("%s failing: left %v", op, got)
		}
	}
}

func TestMB(t *testing.T) {
	for n, want := range map[int64]string{0: "0 MB", 1: "0.1 MB", 499_999: "0.5 MB", 9_940_000: "9.9 MB", 12_600_000: "13 MB"} {
		if got := MB(n); got != want {
			t.Errorf("MB(%d) = %q, want %q", n, got, want)
		}
	}
}
