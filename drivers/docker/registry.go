package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

// encodeAuth is the X-Registry-Auth value for auth ("" for none): the
// credentials travel in that header of this one call, never to the
// server's ~/.docker.
func encodeAuth(auth *drivers.RegistryAuth) string {
	if auth == nil {
		return ""
	}
	b, _ := json.Marshal(registry.AuthConfig{Username: auth.Username, Password: auth.Password, ServerAddress: auth.Server})
	return base64.URLEncoding.EncodeToString(b)
}

// registryError classifies an engine error about ref's registry. The
// engine's messages name URLs and reasons, never the credentials sent.
func registryError(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	host, _ := drivers.RegistryHost(ref)
	reason := drivers.ClassifyRegistry(err.Error())
	switch {
	case reason != nil:
	case cerrdefs.IsNotFound(err):
		reason = drivers.ErrImageNotFound
	case cerrdefs.IsUnauthorized(err), cerrdefs.IsPermissionDenied(err):
		reason = drivers.ErrUnauthorized
	}
	return &drivers.RegistryError{Op: op, Image: ref, Registry: host, Reason: reason, Err: errors.New(strings.TrimSpace(unwrapMsg(err)))}
}

// unwrapMsg is the engine's message without the client's "Error response
// from daemon: " prefix.
func unwrapMsg(err error) string {
	return strings.TrimPrefix(err.Error(), "Error response from daemon: ")
}

// PullImage pulls ref with auth passed per call, reporting progress to
// the context's func (drivers.WithProgress).
func (e *Engine) PullImage(ctx context.Context, ref string, auth *drivers.RegistryAuth) error {
	r, err := e.cli.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: encodeAuth(auth)})
	if err != nil {
		return registryError("pull", ref, err)
	}
	defer r.Close()
	return registryError("pull", ref, readProgress(ctx, r))
}

// PushImage pushes ref, with auth passed per call.
func (e *Engine) PushImage(ctx context.Context, ref string, auth *drivers.RegistryAuth) error {
	// The API wants a header even for anonymous pushes.
	enc := encodeAuth(auth)
	if enc == "" {
		enc = base64.URLEncoding.EncodeToString([]byte("{}"))
	}
	r, err := e.cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: enc})
	if err != nil {
		return registryError("push", ref, err)
	}
	defer r.Close()
	return registryError("push", ref, readProgress(ctx, r))
}

// CheckImage resolves ref's manifest on its registry from the engine
// (GET /distribution/{ref}/json), which pulls nothing.
func (e *Engine) CheckImage(ctx context.Context, ref string, auth *drivers.RegistryAuth) error {
	_, err := e.cli.DistributionInspect(ctx, ref, client.DistributionInspectOptions{EncodedRegistryAuth: encodeAuth(auth)})
	return registryError("check", ref, err)
}

// progressMessage is one line of a pull or push stream.
type progressMessage struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	ProgressDetail struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readProgress reads a pull or push message stream to its end, adding up
// the layers' bytes for the context's progress func, and returns the
// first error message in it.
func readProgress(ctx context.Context, r io.Reader) error {
	report := drivers.ProgressFunc(ctx)
	type layer struct {
		cur, total int64
		done       bool
	}
	layers := map[string]*layer{}
	var order []string
	dec := json.NewDecoder(r)
	for {
		var m progressMessage
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		msg := m.Error
		if msg == "" && m.ErrorDetail != nil {
			msg = m.ErrorDetail.Message
		}
		if msg != "" {
			return errors.New(strings.TrimSpace(msg))
		}
		if m.ID == "" || strings.HasPrefix(m.Status, "Pulling from") || strings.Contains(m.Status, "digest:") {
			continue // a line about the whole image, not a layer
		}
		l := layers[m.ID]
		if l == nil {
			l = &layer{}
			layers[m.ID] = l
			order = append(order, m.ID)
		}
		switch {
		case m.Status == "Downloading" || m.Status == "Pushing":
			// A push counts the layer's tar headers past its size: capped,
			// so the bytes never pass the total nor go back at the end.
			l.cur, l.total = m.ProgressDetail.Current, m.ProgressDetail.Total
			if l.total > 0 && l.cur > l.total {
				l.cur = l.total
			}
		case m.Status == "Pull complete" || m.Status == "Pushed" || m.Status == "Already exists" ||
			m.Status == "Layer already exists" || m.Status == "Download complete":
			if l.total > 0 {
				l.cur = l.total
			}
			l.done = l.done || m.Status != "Download complete"
		}
		var p drivers.Progress
		for _, id := range order {
			l := layers[id]
			p.Bytes += l.cur
			p.Total += l.total
			p.Layers++
			if l.done {
				p.Done++
			}
		}
		report(p)
	}
}
