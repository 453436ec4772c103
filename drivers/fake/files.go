package fake

import (
	"context"
	"fmt"
	"path"

	"github.com/luma-deploy/luma/drivers"
)

// File is what PutFile wrote.
type File struct {
	Content []byte
	Mode    int64
}

// PutFile keeps content as the container's file dir/name.
func (h *Host) PutFile(ctx context.Context, container, dir, name string, content []byte, mode int64) error {
	if err := h.call(ctx, "PutFile", container); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.containers[container]; !ok {
		return fmt.Errorf("copy %s into %s: no such container", name, container)
	}
	if h.files == nil {
		h.files = map[string]File{}
	}
	h.files[container+":"+path.Join(dir, name)] = File{Content: append([]byte(nil), content...), Mode: mode}
	return nil
}

// FileOf returns what PutFile wrote at path of container.
func (h *Host) FileOf(container, path string) (File, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.files[container+":"+path]
	return f, ok
}

// SetImageFile puts a file into an image, for ImageFile.
func (h *Host) SetImageFile(ref, path string, content []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.files == nil {
		h.files = map[string]File{}
	}
	h.files["image "+ref+":"+path] = File{Content: content, Mode: 0o755}
}

// ImageFile reads what SetImageFile put into an image the host holds.
func (h *Host) ImageFile(ctx context.Context, ref, path string) ([]byte, error) {
	if err := h.call(ctx, "ImageFile", ref); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.images[ref]; !ok {
		return nil, fmt.Errorf("image %s: %w", ref, drivers.ErrNotFound)
	}
	f, ok := h.files["image "+ref+":"+path]
	if !ok {
		return nil, fmt.Errorf("%s of %s: no such file", path, ref)
	}
	return append([]byte(nil), f.Content...), nil
}
