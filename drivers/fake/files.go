package fake

import (
	"context"
	"fmt"
	"path"
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
