package drivers

import (
	"context"
	"time"
)

// Image is what ListImages reports of one image.
type Image struct {
	ID      string
	Refs    []string // repository:tag references, none for an untagged image
	Labels  map[string]string
	Created time.Time
	Size    int64 // bytes, layers shared with other images included
}

// Layer is one layer of an image: its chain ID, which names the layers
// below it too (the same layer on the same base), and its size on disk.
type Layer struct {
	Chain string `json:"chain"`
	Size  int64  `json:"size"`
}

// ImageStore lists and removes the images an engine holds, for pruning
// old releases.
type ImageStore interface {
	// ListImages returns the images carrying every label given, with
	// their tags, oldest first.
	ListImages(ctx context.Context, labels map[string]string) ([]Image, error)
	// RemoveImage removes one reference (repository:tag) of an image, and
	// the image with its last; given the ID of an untagged image, the
	// image. Never forced: removing the last reference of an image that a
	// container uses, running or not, is ErrConflict. ErrNotFound when
	// the engine lacks ref.
	RemoveImage(ctx context.Context, ref string) error
	// ImageLayers is the layers of an image (ID or reference), base
	// first, with their sizes: removing the image frees those no other
	// image holds (LayerChains after the removal). ErrNotFound when the
	// engine lacks it.
	ImageLayers(ctx context.Context, ref string) ([]Layer, error)
}
