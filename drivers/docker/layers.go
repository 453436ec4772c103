package docker

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

// LayerChains is the chain ID of every layer of every image the Engine
// holds. The Engine's load (image/tarexport) looks each layer of a tar up
// by chain ID and reads the layer's file only when it lacks that layer
// (measured on 20.10: a tar without those files loads, the same image ID),
// so a tar for this engine may leave them out.
func (e *Engine) LayerChains(ctx context.Context) (map[string]bool, error) {
	r, err := e.cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return nil, wrap(err, "list images")
	}
	out := map[string]bool{}
	for _, s := range r.Items {
		in, err := e.cli.ImageInspect(ctx, s.ID)
		if isNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, wrap(err, "inspect image "+s.ID)
		}
		for _, c := range chainIDs(in.RootFS.Layers) {
			out[c] = true
		}
	}
	return out, nil
}

// chainIDs turns an image's layer diff IDs, base first, into chain IDs: a
// layer is the same layer on another engine only on the same layers below.
func chainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1] + " " + d))
		out[i] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return out
}

// SaveImageFor saves ref as SaveImage does, leaving out the files of the
// layers whose chain ID is in have (LayerChains of the engine that will
// load it). The save is spooled to a temporary file first: its
// manifest.json comes after the layer files, so which file may go is known
// only at the end. Closing the tar removes the file.
func (e *Engine) SaveImageFor(ctx context.Context, ref string, have map[string]bool) (*drivers.ImageTar, error) {
	src, err := e.cli.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, wrap(err, "save image "+ref)
	}
	defer src.Close()
	f, err := os.CreateTemp("", "luma-save-*.tar")
	if err != nil {
		return nil, fmt.Errorf("save image %s: %w", ref, err)
	}
	spool := &spooled{f}
	whole, err := io.Copy(f, src)
	if err != nil {
		spool.Close()
		return nil, fmt.Errorf("save image %s: %w", ref, wrap(err, "read the save"))
	}
	skip, skipped, omitted, err := layersToSkip(f, have)
	if err != nil {
		spool.Close()
		return nil, fmt.Errorf("save image %s: %w", ref, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		spool.Close()
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(copyTarWithout(pw, f, skip)) }()
	return &drivers.ImageTar{
		ReadCloser: &pipeSpool{pr, spool},
		Size:       whole - skipped,
		Whole:      whole,
		Omitted:    omitted,
	}, nil
}

// layersToSkip reads a save tar's manifest and config and names the layer
// files of layers in have, with their bytes and chain IDs.
func layersToSkip(f *os.File, have map[string]bool) (skip map[string]bool, skipped int64, omitted []string, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, nil, err
	}
	tr := tar.NewReader(f)
	jsons := map[string][]byte{} // the top-level files: manifest and configs
	sizes := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, nil, fmt.Errorf("read the save: %w", err)
		}
		sizes[h.Name] = h.Size
		if path.Dir(h.Name) == "." && h.Typeflag == tar.TypeReg && h.Size < 16<<20 {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, 0, nil, fmt.Errorf("read the save: %w", err)
			}
			jsons[h.Name] = b
		}
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(jsons["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		return nil, 0, nil, errors.New("read the save: no manifest.json of one image")
	}
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	m := manifest[0]
	if err := json.Unmarshal(jsons[m.Config], &config); err != nil || len(config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, 0, nil, errors.New("read the save: the config's layers do not match the manifest's")
	}
	skip = map[string]bool{}
	for i, c := range chainIDs(config.RootFS.DiffIDs) {
		if p := m.Layers[i]; have[c] && !skip[p] {
			skip[p] = true
			skipped += sizes[p]
			omitted = append(omitted, c)
		}
	}
	return skip, skipped, omitted, nil
}

// copyTarWithout copies a tar without the files named in skip.
func copyTarWithout(w io.Writer, r io.Reader, skip map[string]bool) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		if skip[h.Name] {
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// spooled is a temporary file removed when closed.
type spooled struct{ *os.File }

func (s *spooled) Close() error {
	err := s.File.Close()
	os.Remove(s.File.Name())
	return err
}

// pipeSpool reads the filtered tar; closing it stops the copy and removes
// the spool.
type pipeSpool struct {
	*io.PipeReader
	spool *spooled
}

func (p *pipeSpool) Close() error {
	p.PipeReader.CloseWithError(errors.New("image tar closed"))
	return p.spool.Close()
}
