package docker

import (
	"context"
	"fmt"
	"slices"

	"github.com/luma-deploy/luma/drivers"
)

// ImageLayers is the layers of an image, base first, with their sizes.
// The Engine keeps a layer's size only in the image's history: one entry
// per build step, newest first, where a step that made a layer carries
// its size and one that made none (ENV, CMD...) carries 0.
func (e *Engine) ImageLayers(ctx context.Context, ref string) ([]drivers.Layer, error) {
	in, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, wrap(err, "inspect image "+ref)
	}
	h, err := e.cli.ImageHistory(ctx, ref)
	if err != nil {
		return nil, wrap(err, "image history of "+ref)
	}
	sizes := make([]int64, len(h.Items))
	for i, item := range h.Items {
		sizes[len(sizes)-1-i] = item.Size // oldest first
	}
	chains := chainIDs(in.RootFS.Layers)
	layerSizes, err := sizesOfLayers(sizes, len(chains))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	out := make([]drivers.Layer, len(chains))
	for i, c := range chains {
		out[i] = drivers.Layer{Chain: c, Size: layerSizes[i]}
	}
	return out, nil
}

// sizesOfLayers maps history sizes (oldest first) onto n layers. The
// history does not say which 0-byte steps made a layer: when every such
// step did, or none did, the map is exact; else the empty layers are put
// last, which can only understate what removing the image frees (the
// layers it frees are always the top ones), never overstate it.
func sizesOfLayers(history []int64, n int) ([]int64, error) {
	var sized []int64
	for _, s := range history {
		if s > 0 {
			sized = append(sized, s)
		}
	}
	switch {
	case len(sized) > n:
		return nil, fmt.Errorf("its history has %d layers with bytes, its root file system %d layers", len(sized), n)
	case len(history) == n:
		return slices.Clone(history), nil
	}
	return append(sized, make([]int64, n-len(sized))...), nil
}
