package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/luma-deploy/luma/drivers"
)

// HasImage tells whether the Engine has the image ref.
func (e *Engine) HasImage(ctx context.Context, ref string) (bool, error) {
	_, err := e.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case isNotFound(err):
		return false, nil
	}
	return false, wrap(err, "inspect image "+ref)
}

// SaveImage streams the image as a `docker save` tar. The caller closes it.
func (e *Engine) SaveImage(ctx context.Context, ref string) (io.ReadCloser, error) {
	r, err := e.cli.ImageSave(ctx, []string{ref})
	if err != nil {
		return nil, wrap(err, "save image "+ref)
	}
	return r, nil
}

// LoadImage loads a `docker save` tar and fails if the Engine reports an
// error in its message stream.
func (e *Engine) LoadImage(ctx context.Context, tar io.Reader) error {
	r, err := e.cli.ImageLoad(ctx, tar, client.ImageLoadWithQuiet(true))
	if err != nil {
		return wrap(err, "load image")
	}
	defer r.Close()
	if _, err := readMessages(r); err != nil {
		return fmt.Errorf("load image: %w", err)
	}
	return nil
}

// BuildImage builds spec.Tag from a tar of the build context with the
// classic builder, reads the whole message stream and returns its first
// error message.
func (e *Engine) BuildImage(ctx context.Context, spec drivers.BuildSpec, tar io.Reader) error {
	what := "build image " + spec.Tag
	opts := client.ImageBuildOptions{
		Tags:       append([]string{spec.Tag}, spec.Tags...),
		Dockerfile: spec.Dockerfile,
		Target:     spec.Target,
		Labels:     spec.Labels,
		Remove:     true,
		Version:    build.BuilderV1,
	}
	if len(spec.Args) > 0 {
		opts.BuildArgs = map[string]*string{}
		for k, v := range spec.Args {
			opts.BuildArgs[k] = &v
		}
	}
	if spec.Platform != "" {
		p, err := parsePlatform(spec.Platform)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		opts.Platforms = []ocispec.Platform{p}
	}
	r, err := e.cli.ImageBuild(ctx, tar, opts)
	if err != nil {
		return wrap(err, what)
	}
	defer r.Body.Close()
	if out, err := readMessages(r.Body); err != nil {
		return fmt.Errorf("%s: %w%s", what, err, tail(out))
	}
	return nil
}

func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return ocispec.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	p := ocispec.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// message is one line of the Engine's JSON progress stream.
type message struct {
	Stream      string `json:"stream"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readMessages reads a JSON message stream to its end and returns the
// output text and the first error message in it.
func readMessages(r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	var out strings.Builder
	var first error
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			if first == nil {
				first = fmt.Errorf("reading the Engine's messages: %w", err)
			}
			break
		}
		if out.Len() < 64<<10 {
			out.WriteString(m.Stream)
		}
		msg := m.Error
		if msg == "" && m.ErrorDetail != nil {
			msg = m.ErrorDetail.Message
		}
		if msg != "" && first == nil {
			first = errors.New(strings.TrimSpace(msg))
		}
	}
	return out.String(), first
}

// tail is the last lines of build output, to show with a build error.
func tail(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return "\n" + strings.Join(lines, "\n")
}

// Transfer copies image ref from one Engine to another, streaming save into
// load without a temporary file. It does nothing when to already holds the
// same image (same ID) under ref; another image under that tag is replaced.
func Transfer(ctx context.Context, from, to drivers.Images, ref string) error {
	want, err := from.ImageID(ctx, ref)
	if err != nil {
		return err
	}
	if want == "" {
		return fmt.Errorf("transfer image %s: %w on the source", ref, drivers.ErrNotFound)
	}
	if have, err := to.ImageID(ctx, ref); err != nil {
		return err
	} else if have == want {
		return nil
	}
	src, err := from.SaveImage(ctx, ref)
	if err != nil {
		return err
	}
	defer src.Close()
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, src)
		pw.CloseWithError(err)
	}()
	err = to.LoadImage(ctx, pr)
	pr.CloseWithError(errors.New("load ended")) // stops the copy if load failed early
	if err != nil {
		return fmt.Errorf("transfer image %s: %w", ref, err)
	}
	return nil
}
