package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// PutFile writes content at dir/name in the container through the
// Engine's archive API (the container need not run; a volume mounted at
// dir receives it).
func (e *Engine) PutFile(ctx context.Context, container, dir, name string, content []byte, mode int64) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	name = path.Clean(strings.TrimPrefix(name, "/"))
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ { // parent directories first
		tw.WriteHeader(&tar.Header{Name: strings.Join(parts[:i], "/") + "/", Mode: 0o700, Typeflag: tar.TypeDir, ModTime: time.Now()})
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	_, err := e.cli.CopyToContainer(ctx, container, client.CopyToContainerOptions{DestinationPath: dir, Content: &buf})
	return wrap(err, "copy "+name+" into "+container)
}

// ImageFile reads the regular file at path of image ref: a container is
// created from it (not started), the file copied out, the container
// removed.
func (e *Engine) ImageFile(ctx context.Context, ref, path string) ([]byte, error) {
	c, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Image: ref, Config: &container.Config{Cmd: []string{"none"}}})
	if err != nil {
		return nil, wrap(err, "create a container of "+ref)
	}
	defer e.cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, client.ContainerRemoveOptions{Force: true})
	res, err := e.cli.CopyFromContainer(ctx, c.ID, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		return nil, wrap(err, "copy "+path+" out of "+ref)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("%s of %s: no regular file in the archive: %w", path, ref, err)
		}
		if h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}
