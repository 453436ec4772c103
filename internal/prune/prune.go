// Package prune removes the images of an app's old releases from a server
// (or the local engine) so its disk does not fill, keeping the newest
// releases so a rollback to them needs no transfer. It is housekeeping
// after a deploy has come to rest, not a state of the deploy machine, and
// `luma prune` runs it on demand.
//
// It only ever removes images Luma made (those labelled with the app's
// project and app by internal/deploy's builds; a load keeps labels),
// never one a container uses, running or not, and never forced: an image
// a container started using since the listing is refused by the engine
// and kept.
package prune

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// Engine is what pruning needs of an engine.
type Engine interface {
	drivers.ImageStore
	List(ctx context.Context, labels map[string]string) ([]drivers.Container, error)
	LayerChains(ctx context.Context) (map[string]bool, error)
}

// Records is where deploy records live (luma-proxy's store).
type Records interface {
	Load(ctx context.Context, project, app string) (machine.Record, error)
}

// Target is one engine to prune.
type Target struct {
	Name   string // server name, for output
	Engine Engine
	// Records, when not nil, holds the app's deploy record: its release
	// and the previous one are always kept, and nothing is pruned while
	// a deploy is not at rest. nil for the local engine.
	Records Records
}

// App is whose images are pruned and how many releases stay.
type App struct {
	Project, Name string
	Keep          int // releases kept, at least 1
}

// Result is what one pruning of one app on one engine did.
type Result struct {
	Server  string          `json:"server"`
	App     string          `json:"app"`
	Removed []drivers.Image `json:"removed"`
	Kept    []string        `json:"kept_releases"`     // newest first
	Freed   int64           `json:"freed_bytes"`       // of layers no image left holds
	Skipped string          `json:"skipped,omitempty"` // why nothing was looked at
}

// Line is the progress line of a result, "" when nothing was removed.
func (r Result) Line() string {
	if len(r.Removed) == 0 {
		return ""
	}
	noun := "images"
	if len(r.Removed) == 1 {
		noun = "image"
	}
	return fmt.Sprintf("Removed %d old %s of %s (%s freed)", len(r.Removed), noun, r.App, MB(r.Freed))
}

// MB formats bytes as Docker does, in decimal megabytes: one decimal
// below 10 MB, so a small image does not show as 0.
func MB(n int64) string {
	switch {
	case n == 0:
		return "0 MB"
	case n < 100_000:
		return "0.1 MB"
	case n < 10_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.0f MB", float64(n)/1e6)
}

// Run prunes app on t: it lists the app's images and the containers,
// plans, then removes. Images it could not remove are in the error; the
// result says what was removed all the same.
func Run(ctx context.Context, t Target, app App) (Result, error) {
	res := Result{Server: t.Name, App: app.Name, Removed: []drivers.Image{}}
	images, err := t.Engine.ListImages(ctx, map[string]string{naming.LabelProject: app.Project, naming.LabelApp: app.Name})
	if err != nil {
		return res, err
	}
	// Most runs have nothing to remove: they stop here, before reading
	// the record and every container.
	if remove, kept := Plan(images, nil, nil, app.Keep); len(remove) == 0 {
		res.Kept = kept
		return res, nil
	}
	var protect []string
	if t.Records != nil {
		rec, err := t.Records.Load(ctx, app.Project, app.Name)
		switch {
		case errors.Is(err, drivers.ErrNotFound):
		case err != nil:
			return res, fmt.Errorf("read the deploy record of %s: %w", app.Name, err)
		case rec.State != machine.Idle && rec.State != "":
			res.Skipped = fmt.Sprintf("a deploy of %s is in state %s", app.Name, rec.State)
			return res, nil
		default:
			protect = []string{rec.Release, rec.Previous}
		}
	}
	containers, err := t.Engine.List(ctx, nil)
	if err != nil {
		return res, err
	}
	inUse := map[string]bool{}
	for _, c := range containers {
		inUse[c.ImageID] = true
	}
	var remove []drivers.Image
	remove, res.Kept = Plan(images, inUse, protect, app.Keep)
	var errs []error
	layers := map[string]int64{} // of the removed images: chain → size
	for _, img := range remove {
		ls, err := t.Engine.ImageLayers(ctx, img.ID)
		if err != nil && !errors.Is(err, drivers.ErrNotFound) {
			errs = append(errs, err)
			continue // what it would free is unknown: keep it
		}
		gone, err := removeImage(ctx, t.Engine, img)
		if err != nil {
			errs = append(errs, err)
		}
		if gone {
			res.Removed = append(res.Removed, img)
			for _, l := range ls {
				layers[l.Chain] = l.Size
			}
		}
	}
	freed, err := freed(ctx, t.Engine, layers)
	res.Freed = freed
	return res, errors.Join(append(errs, err)...)
}

// freed is the bytes of the layers that left the disk: those of the
// removed images that no image on the engine holds now, each counted
// once. A layer shared with an image that stays (the base of every
// release, another app's) frees nothing. It asks the engine after the
// removals, so an image made meanwhile counts as staying.
func freed(ctx context.Context, e Engine, removed map[string]int64) (int64, error) {
	if len(removed) == 0 {
		return 0, nil
	}
	left, err := e.LayerChains(ctx)
	if err != nil {
		return 0, fmt.Errorf("count the bytes freed: %w", err)
	}
	var n int64
	for chain, size := range removed {
		if !left[chain] {
			n += size
		}
	}
	return n, nil
}

// Plan decides which of an app's images go: releases (the luma.release
// label) are ordered by when their newest image was made, and the keep
// newest stay, with those named in protect; of the others, every image
// no container uses goes. An untagged image (its tag moved to a rebuild
// of the same release) goes too unless a container uses it. An image
// without a release label is not Luma's build: it stays. It returns the
// images to remove, oldest first, and the releases kept, newest first.
func Plan(images []drivers.Image, inUse map[string]bool, protect []string, keep int) ([]drivers.Image, []string) {
	newest := map[string]time.Time{}
	for _, img := range images {
		rel := img.Labels[naming.LabelRelease]
		if t, ok := newest[rel]; rel != "" && (!ok || img.Created.After(t)) {
			newest[rel] = img.Created
		}
	}
	releases := make([]string, 0, len(newest))
	for rel := range newest {
		releases = append(releases, rel)
	}
	slices.SortFunc(releases, func(a, b string) int {
		return cmp.Or(newest[b].Compare(newest[a]), cmp.Compare(b, a))
	})
	kept := map[string]bool{}
	var keptList []string
	for i, rel := range releases {
		if i < keep || slices.Contains(protect, rel) {
			kept[rel] = true
			keptList = append(keptList, rel)
		}
	}
	var out []drivers.Image
	for _, img := range images {
		rel := img.Labels[naming.LabelRelease]
		switch {
		case rel == "" || inUse[img.ID]:
		case !kept[rel] || len(img.Refs) == 0:
			out = append(out, img)
		}
	}
	slices.SortStableFunc(out, func(a, b drivers.Image) int { return a.Created.Compare(b.Created) })
	return out, keptList
}

// removeImage removes each reference of img, or img by ID when it has
// none. gone is false when the engine kept it: a container started using
// it since the listing (ErrConflict, no error) or the engine failed.
func removeImage(ctx context.Context, e Engine, img drivers.Image) (gone bool, err error) {
	refs := img.Refs
	if len(refs) == 0 {
		refs = []string{img.ID}
	}
	for _, ref := range refs {
		err := e.RemoveImage(ctx, ref)
		switch {
		case err == nil, errors.Is(err, drivers.ErrNotFound):
		case errors.Is(err, drivers.ErrConflict):
			return false, nil
		default:
			return false, err
		}
	}
	return true, nil
}
