package docker

import "context"

// ImageID is ref's image ID (the digest of its config), "" when the Engine
// lacks it. A save and load keeps the ID, so equal IDs on two engines mean
// the same image.
func (e *Engine) ImageID(ctx context.Context, ref string) (string, error) {
	res, err := e.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return res.ID, nil
	case isNotFound(err):
		return "", nil
	}
	return "", wrap(err, "inspect image "+ref)
}
