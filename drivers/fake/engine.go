package fake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// Create makes a container in state "created", on spec.Network with
// spec.Aliases. The image and the network must exist.
func (h *Host) Create(ctx context.Context, spec drivers.ContainerSpec) error {
	if err := h.call(ctx, "Create", spec.Name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.containers[spec.Name]; ok {
		return fmt.Errorf("container %s: %w", spec.Name, drivers.ErrConflict)
	}
	if h.images[spec.Image] == "" {
		return fmt.Errorf("image %s: %w", spec.Image, drivers.ErrNotFound)
	}
	nets := map[string][]string{}
	if spec.Network != "" {
		if _, ok := h.networks[spec.Network]; !ok {
			return fmt.Errorf("network %s: %w", spec.Network, drivers.ErrNotFound)
		}
		nets[spec.Network] = slices.Clone(spec.Aliases)
	}
	h.nextID++
	spec.Labels = maps.Clone(spec.Labels)
	spec.Env = slices.Clone(spec.Env)
	h.containers[spec.Name] = &container{
		Container: drivers.Container{
			ID: fmt.Sprintf("%012x", h.nextID), Name: spec.Name, Image: spec.Image,
			Labels: maps.Clone(spec.Labels), State: "created", Networks: nets,
		},
		spec:    spec,
		stopped: -1,
	}
	return nil
}

// Start runs a container; a Behavior may make it crash at once.
func (h *Host) Start(ctx context.Context, name string) error {
	if err := h.call(ctx, "Start", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return err
	}
	c.State, c.ExitCode, c.StartedAt = "running", 0, h.clock.Now()
	c.healthy, c.probes = 0, 0
	switch b := h.behavior(c); b.CrashOnStart {
	case "exited":
		c.State, c.ExitCode = "exited", b.ExitCode
	case "restarting":
		c.State, c.ExitCode = "restarting", b.ExitCode
		c.RestartCount++
	}
	return nil
}

// Stop stops a container, remembering the timeout it was given.
func (h *Host) Stop(ctx context.Context, name string, timeout time.Duration) error {
	if err := h.call(ctx, "Stop", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return err
	}
	h.checkStop(c, "stopped")
	if c.State == "running" || c.State == "restarting" {
		c.State, c.ExitCode = "exited", 0
	}
	c.stopped = timeout
	return nil
}

// lookup returns the container called name, or ErrNotFound. h.mu is
// held.
func (h *Host) lookup(name string) (*container, error) {
	c, ok := h.containers[name]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", name, drivers.ErrNotFound)
	}
	return c, nil
}

// Remove removes a container, running or not; a missing one is no error.
func (h *Host) Remove(ctx context.Context, name string) error {
	if err := h.call(ctx, "Remove", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.containers[name]; ok {
		h.checkStop(c, "removed")
		delete(h.containers, name)
	}
	return nil
}

// Inspect reports one container.
func (h *Host) Inspect(ctx context.Context, name string) (drivers.Container, error) {
	if err := h.call(ctx, "Inspect", name); err != nil {
		return drivers.Container{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return drivers.Container{}, err
	}
	return copyContainer(c.Container), nil
}

// List returns the containers carrying every label given, by name.
func (h *Host) List(ctx context.Context, labels map[string]string) ([]drivers.Container, error) {
	if err := h.call(ctx, "List", ""); err != nil {
		return nil, err
	}
	return h.list(labels), nil
}

func (h *Host) list(labels map[string]string) []drivers.Container {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []drivers.Container
	for _, c := range h.containers {
		if hasLabels(c.Labels, labels) {
			out = append(out, copyContainer(c.Container))
		}
	}
	slices.SortFunc(out, func(a, b drivers.Container) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// EnsureNetwork creates a network unless it exists.
func (h *Host) EnsureNetwork(ctx context.Context, name string, labels map[string]string) error {
	if err := h.call(ctx, "EnsureNetwork", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.networks[name]; !ok {
		h.networks[name] = maps.Clone(labels)
	}
	return nil
}

// Connect attaches a container to a network with aliases. As with Docker, a
// second connect to the same network fails: aliases cannot be edited.
func (h *Host) Connect(ctx context.Context, network, name string, aliases []string) error {
	if err := h.call(ctx, "Connect", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return err
	}
	if _, ok := h.networks[network]; !ok {
		return fmt.Errorf("network %s: %w", network, drivers.ErrNotFound)
	}
	if _, ok := c.Networks[network]; ok {
		return fmt.Errorf("container %s on network %s: %w", name, network, drivers.ErrConflict)
	}
	c.Networks[network] = slices.Clone(aliases)
	return nil
}

// Disconnect detaches a container from a network.
func (h *Host) Disconnect(ctx context.Context, network, name string) error {
	if err := h.call(ctx, "Disconnect", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c, err := h.lookup(name)
	if err != nil {
		return err
	}
	if _, ok := c.Networks[network]; !ok {
		return fmt.Errorf("container %s on network %s: %w", name, network, drivers.ErrNotFound)
	}
	delete(c.Networks, network)
	return nil
}

// AddImage puts images on the host, as a build would: each call makes new
// image IDs, so re-adding a ref is a rebuild under the same tag.
func (h *Host) AddImage(refs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range refs {
		h.nextID++
		h.images[r] = fmt.Sprintf("sha256:%s-%d-%d", h.name, h.nextID, len(r))
	}
}

// HasImage tells whether the host has ref.
func (h *Host) HasImage(ctx context.Context, ref string) (bool, error) {
	if err := h.call(ctx, "HasImage", ref); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.images[ref] != "", nil
}

// ImageID is ref's ID on this host, "" when absent.
func (h *Host) ImageID(ctx context.Context, ref string) (string, error) {
	if err := h.call(ctx, "ImageID", ref); err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.images[ref], nil
}

const imagePrefix = "fake-image "

// SaveImage returns a "tar" that LoadImage of any fake host understands.
func (h *Host) SaveImage(ctx context.Context, ref string) (io.ReadCloser, error) {
	if err := h.call(ctx, "SaveImage", ref); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.images[ref]
	if id == "" {
		return nil, fmt.Errorf("image %s: %w", ref, drivers.ErrNotFound)
	}
	return io.NopCloser(strings.NewReader(imagePrefix + ref + " " + id)), nil
}

// LoadImage loads what SaveImage wrote.
func (h *Host) LoadImage(ctx context.Context, tar io.Reader) error {
	if err := h.call(ctx, "LoadImage", ""); err != nil {
		return err
	}
	b, err := io.ReadAll(tar)
	if err != nil {
		return err
	}
	rest, ok := strings.CutPrefix(string(b), imagePrefix)
	ref, id, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 {
		return fmt.Errorf("load image: not an image tar")
	}
	h.mu.Lock()
	h.images[ref] = id // a load keeps the image's ID
	h.mu.Unlock()
	return nil
}

// BuildImage tags spec.Tag.
func (h *Host) BuildImage(ctx context.Context, spec drivers.BuildSpec, _ io.Reader) error {
	if err := h.call(ctx, "BuildImage", spec.Tag); err != nil {
		return err
	}
	h.AddImage(spec.Tag)
	return nil
}

// Exec is not simulated: it succeeds with no output in a running container.
func (h *Host) Exec(ctx context.Context, name string, _ []string, _ []byte) ([]byte, error) {
	if err := h.call(ctx, "Exec", name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.containers[name]; !ok || !c.Running() {
		return nil, fmt.Errorf("container %s is not running", name)
	}
	return nil, nil
}

// ExecStream is not simulated either: in a running container the command
// reads stdin until it ends and exits 0 with no output. The fake's proxy
// side is the Host itself, never reached through exec.
func (h *Host) ExecStream(ctx context.Context, name string, _ []string) (drivers.ExecSession, error) {
	if err := h.call(ctx, "ExecStream", name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	c, ok := h.containers[name]
	running := ok && c.Running()
	h.mu.Unlock()
	if !running {
		return nil, fmt.Errorf("container %s is not running", name)
	}
	r, w := io.Pipe()
	s := &execSession{w: w, done: make(chan struct{})}
	go func() {
		io.Copy(io.Discard, r)
		close(s.done)
	}()
	context.AfterFunc(ctx, func() { w.CloseWithError(ctx.Err()) })
	return s, nil
}

type execSession struct {
	w    *io.PipeWriter
	done chan struct{}
}

func (s *execSession) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *execSession) Close() error                { return s.w.Close() }
func (s *execSession) Stdout() io.Reader {
	return readerFunc(func([]byte) (int, error) { <-s.done; return 0, io.EOF })
}
func (s *execSession) Wait() error { <-s.done; return nil }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Platform is linux/amd64.
func (h *Host) Platform(ctx context.Context) (string, error) {
	return "linux/amd64", h.call(ctx, "Platform", "")
}

// Close does nothing.
func (h *Host) Close() error { return nil }

// Containers returns every container, by name.
func (h *Host) Containers() []drivers.Container { return h.list(nil) }

// Spec returns what a container was created with and the timeout of its
// last Stop (-1 when never stopped).
func (h *Host) Spec(name string) (drivers.ContainerSpec, time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[name]
	if !ok {
		return drivers.ContainerSpec{}, 0, false
	}
	return c.spec, c.stopped, true
}

// Crash makes a running container exit now with code.
func (h *Host) Crash(name string, code int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.containers[name]; ok {
		c.State, c.ExitCode = "exited", code
	}
}
