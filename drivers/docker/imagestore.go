package docker

import (
	"context"
	"sort"
	"time"

	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

// ListImages returns the images carrying every label given, tagged or
// not (not the intermediate images of builds), oldest first. The list
// gives times in whole seconds; each image is inspected for the exact
// one, so releases built within a second keep their order.
func (e *Engine) ListImages(ctx context.Context, labels map[string]string) ([]drivers.Image, error) {
	f := client.Filters{}
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	r, err := e.cli.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return nil, wrap(err, "list images")
	}
	out := make([]drivers.Image, 0, len(r.Items))
	for _, s := range r.Items {
		img := drivers.Image{ID: s.ID, Labels: s.Labels, Created: time.Unix(s.Created, 0).UTC(), Size: s.Size}
		for _, t := range s.RepoTags {
			if t != "<none>:<none>" { // how old engines show an untagged image
				img.Refs = append(img.Refs, t)
			}
		}
		in, err := e.cli.ImageInspect(ctx, s.ID)
		if isNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, wrap(err, "inspect image "+s.ID)
		}
		if t, err := time.Parse(time.RFC3339Nano, in.Created); err == nil {
			img.Created = t.UTC()
		}
		out = append(out, img)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RemoveImage removes one reference of an image, or an untagged image by
// ID, never forced: the Engine refuses the last reference of an image a
// container uses (ErrConflict). Untagged parents left by the classic
// builder go with it.
func (e *Engine) RemoveImage(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
	return wrap(err, "remove image "+ref)
}
