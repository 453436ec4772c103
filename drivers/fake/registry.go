package fake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/luma-deploy/luma/drivers"
)

// Registry is a fake container registry that fake hosts reach (UseRegistry)
// to pull from and push to. With a user it wants that user's credentials
// for everything, as a private registry does; without one it is public.
// Every call's credentials are recorded, and credentials meant for another
// registry flag a violation on the host that sent them. Safe for
// concurrent use.
type Registry struct {
	host, user, password string

	mu     sync.Mutex
	images map[string]savedImage // ref → image
	calls  []RegistryCall
	down   bool
	nextID int
}

// RegistryCall is one request a registry received.
type RegistryCall struct {
	Op, Ref string
	Auth    *drivers.RegistryAuth // nil: anonymous
}

// NewRegistry returns an empty registry named host (host[:port], as refs
// name it); user "" makes it public.
func NewRegistry(host, user, password string) *Registry {
	return &Registry{host: host, user: user, password: password, images: map[string]savedImage{}}
}

// Host is the registry's host[:port].
func (r *Registry) Host() string { return r.host }

// Add puts an image in the registry under ref and returns its ID.
func (r *Registry) Add(ref string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	id := fmt.Sprintf("sha256:registry-%s-%d", r.host, r.nextID)
	r.images[ref] = savedImage{Ref: ref, ID: id}
	return id
}

// ImageID is ref's ID in the registry, "" when it has no such image.
func (r *Registry) ImageID(ref string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.images[ref].ID
}

// SetDown makes the registry unreachable (true) or reachable again.
func (r *Registry) SetDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// Calls is every request the registry received, in order.
func (r *Registry) Calls() []RegistryCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// serve answers one request as a registry would, with the reasons the
// engine reports.
func (r *Registry) serve(op, ref string, auth *drivers.RegistryAuth) (savedImage, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var a *drivers.RegistryAuth
	if auth != nil {
		c := *auth
		a = &c
	}
	r.calls = append(r.calls, RegistryCall{Op: op, Ref: ref, Auth: a})
	fail := func(reason error, msg string) (savedImage, error) {
		return savedImage{}, &drivers.RegistryError{Op: op, Image: ref, Registry: r.host, Reason: reason, Err: errors.New(msg)}
	}
	switch {
	case r.down:
		return fail(drivers.ErrRegistryUnreached, "dial tcp "+r.host+": connect: connection refused")
	case r.user != "" && (auth == nil || auth.Username != r.user || auth.Password != r.password):
		return fail(drivers.ErrUnauthorized, "unauthorized: authentication required")
	}
	img, ok := r.images[ref]
	if !ok && op != "push" {
		return fail(drivers.ErrImageNotFound, "manifest for "+ref+" not found: manifest unknown")
	}
	return img, nil
}

// UseRegistry lets the host reach registries; a ref on any other registry
// is unreachable.
func (h *Host) UseRegistry(regs ...*Registry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.registries == nil {
		h.registries = map[string]*Registry{}
	}
	for _, r := range regs {
		h.registries[r.host] = r
	}
}

// registry is the registry ref lives on, flagging credentials sent to a
// registry they are not for: the engine would hand them to that registry.
func (h *Host) registry(op, ref string, auth *drivers.RegistryAuth) (*Registry, error) {
	host, err := drivers.RegistryHost(ref)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if auth != nil && drivers.NormalizeRegistry(auth.Server) != host {
		h.violate("credentials for registry %s sent with %s of %s (registry %s)", auth.Server, op, ref, host)
	}
	r := h.registries[host]
	if r == nil {
		return nil, &drivers.RegistryError{Op: op, Image: ref, Registry: host, Reason: drivers.ErrRegistryUnreached,
			Err: fmt.Errorf("dial tcp: lookup %s: no such host", host)}
	}
	return r, nil
}

// PullImage copies ref from its registry, keeping its ID and labels.
func (h *Host) PullImage(ctx context.Context, ref string, auth *drivers.RegistryAuth) error {
	if err := h.call(ctx, "PullImage", ref); err != nil {
		return err
	}
	r, err := h.registry("pull", ref, auth)
	if err != nil {
		return err
	}
	img, err := r.serve("pull", ref, auth)
	if err != nil {
		return err
	}
	drivers.ProgressFunc(ctx)(drivers.Progress{Bytes: 1, Total: 1, Layers: 1, Done: 1})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.images[ref] = img.ID
	if _, ok := h.imageCreated[img.ID]; !ok {
		h.nextID++
		h.imageCreated[img.ID] = imageTime{h.clock.Now(), h.nextID}
	}
	if len(img.Labels) > 0 {
		h.imageLabels[img.ID] = maps.Clone(img.Labels)
	}
	return nil
}

// PushImage copies ref, which the host has, to its registry.
func (h *Host) PushImage(ctx context.Context, ref string, auth *drivers.RegistryAuth) error {
	if err := h.call(ctx, "PushImage", ref); err != nil {
		return err
	}
	h.mu.Lock()
	id, labels := h.images[ref], maps.Clone(h.imageLabels[h.images[ref]])
	h.mu.Unlock()
	if id == "" {
		host, _ := drivers.RegistryHost(ref)
		return &drivers.RegistryError{Op: "push", Image: ref, Registry: host, Err: errors.New("An image does not exist locally with the tag: " + ref)}
	}
	r, err := h.registry("push", ref, auth)
	if err != nil {
		return err
	}
	if _, err := r.serve("push", ref, auth); err != nil {
		return err
	}
	r.mu.Lock()
	r.images[ref] = savedImage{Ref: ref, ID: id, Labels: labels}
	r.mu.Unlock()
	h.mu.Lock()
	var p drivers.Progress
	for _, l := range h.layersOf(id) {
		p.Bytes, p.Total, p.Layers, p.Done = p.Bytes+l.Size, p.Total+l.Size, p.Layers+1, p.Done+1
	}
	h.mu.Unlock()
	drivers.ProgressFunc(ctx)(p)
	return nil
}

// CheckImage asks ref's registry whether it has ref for auth.
func (h *Host) CheckImage(ctx context.Context, ref string, auth *drivers.RegistryAuth) error {
	if err := h.call(ctx, "CheckImage", ref); err != nil {
		return err
	}
	r, err := h.registry("check", ref, auth)
	if err != nil {
		return err
	}
	_, err = r.serve("check", ref, auth)
	return err
}
