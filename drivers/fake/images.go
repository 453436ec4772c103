package fake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// ImageSize is the size of an image without SetLayers: one layer of its own.
const ImageSize = 10_000_000

// imageTime orders images as the engine's nanosecond times would, when
// the fake's clock stood still between them.
type imageTime struct {
	at  time.Time
	seq int
}

// ListImages returns the images, tagged or not, carrying every label
// given, oldest first.
func (h *Host) ListImages(ctx context.Context, labels map[string]string) ([]drivers.Image, error) {
	if err := h.call(ctx, "ListImages", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	refs := map[string][]string{}
	for ref, id := range h.images {
		refs[id] = append(refs[id], ref)
	}
	var out []drivers.Image
	for id, created := range h.imageCreated {
		if !hasLabels(h.imageLabels[id], labels) {
			continue
		}
		r := refs[id]
		slices.Sort(r)
		var size int64
		for _, l := range h.layersOf(id) {
			size += l.Size
		}
		out = append(out, drivers.Image{ID: id, Refs: r, Labels: maps.Clone(h.imageLabels[id]), Created: created.at, Size: size})
	}
	slices.SortFunc(out, func(a, b drivers.Image) int {
		ta, tb := h.imageCreated[a.ID], h.imageCreated[b.ID]
		if c := ta.at.Compare(tb.at); c != 0 {
			return c
		}
		return ta.seq - tb.seq
	})
	return out, nil
}

// RemoveImage removes a reference, and the image with its last one, or
// an untagged image by ID; as with Docker, never the last reference of an
// image a container was created from (ErrConflict).
func (h *Host) RemoveImage(ctx context.Context, ref string) error {
	if err := h.call(ctx, "RemoveImage", ref); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	id, tagged := h.images[ref]
	if !tagged {
		if _, ok := h.imageCreated[ref]; !ok {
			return fmt.Errorf("remove image %s: %w", ref, drivers.ErrNotFound)
		}
		id = ref
	}
	var others []string
	for r, i := range h.images {
		if i == id && r != ref {
			others = append(others, r)
		}
	}
	switch {
	case !tagged && len(others) > 0:
		return fmt.Errorf("remove image %s: %w: it is tagged %v", ref, drivers.ErrConflict, others)
	case tagged && len(others) > 0:
		delete(h.images, ref) // only untagged
		return nil
	}
	for _, c := range h.containers {
		if c.ImageID == id {
			return fmt.Errorf("remove image %s: %w: container %s uses it", ref, drivers.ErrConflict, c.Name)
		}
	}
	delete(h.images, ref)
	delete(h.imageCreated, id)
	delete(h.imageLabels, id)
	delete(h.imageLayers, id)
	return nil
}

// ImageLayers is the layers of an image (ID or reference), base first.
func (h *Host) ImageLayers(ctx context.Context, ref string) ([]drivers.Layer, error) {
	if err := h.call(ctx, "ImageLayers", ref); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	id, ok := h.images[ref]
	if !ok {
		if _, ok := h.imageCreated[ref]; !ok {
			return nil, fmt.Errorf("image %s: %w", ref, drivers.ErrNotFound)
		}
		id = ref
	}
	return slices.Clone(h.layersOf(id)), nil
}
