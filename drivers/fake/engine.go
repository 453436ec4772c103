package fake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// Create makes a container in state "created", on spec.Network with
// spec.Aliases, or on the default "bridge" without aliases. The image must
// exist; as with Docker the network is only checked at Start. The
// container carries its image's labels under its own.
func (h *Host) Create(ctx context.Context, spec drivers.ContainerSpec) error {
	if err := h.call(ctx, "Create", spec.Name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.containers[spec.Name]; ok {
		return fmt.Errorf("container %s: %w", spec.Name, drivers.ErrConflict)
	}
	image := h.imageID(spec.Image)
	if image == "" {
		return fmt.Errorf("image %s: %w", spec.Image, drivers.ErrNotFound)
	}
	nets := map[string][]string{bridge: {}}
	if spec.Network != "" {
		nets = map[string][]string{spec.Network: aliasList(spec.Aliases)}
	}
	labels := maps.Clone(h.imageLabels[image])
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, spec.Labels)
	h.nextID++
	spec.Labels = maps.Clone(spec.Labels)
	spec.Env = slices.Clone(spec.Env)
	h.containers[spec.Name] = &container{
		Container: drivers.Container{
			ID: fmt.Sprintf("%012x", h.nextID), Name: spec.Name, Image: spec.Image, ImageID: image,
			Labels: labels, State: "created", Networks: nets, Volumes: namedVolumes(spec.Volumes),
		},
		spec:    spec,
		stopped: -1,
	}
	return nil
}

// namedVolumes are the named volumes of binds, as the engine reports
// them (destination → name); host paths are no volumes.
func namedVolumes(binds []string) map[string]string {
	var out map[string]string
	for _, b := range binds {
		name, rest, ok := strings.Cut(b, ":")
		if !ok || name == "" || strings.HasPrefix(name, "/") || strings.HasPrefix(name, ".") {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		dest, _, _ := strings.Cut(rest, ":")
		out[dest] = name
	}
	return out
}

// Start runs a container; a Behavior may make it crash at once. Starting
// a running container changes nothing; one on a missing network does not
// start (ErrNotFound).
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
	if c.State == "running" {
		return nil
	}
	for n := range c.Networks {
		if _, ok := h.networks[n]; !ok {
			return fmt.Errorf("start container %s: network %s: %w", name, n, drivers.ErrNotFound)
		}
	}
	c.State, c.ExitCode, c.StartedAt = "running", 0, h.clock.Now()
	c.healthy, c.probes = 0, 0
	b := h.behavior(c)
	switch b.CrashOnStart {
	case "exited":
		c.State, c.ExitCode = "exited", b.ExitCode
	case "restarting":
		c.State, c.ExitCode = "restarting", b.ExitCode
		c.RestartCount++
	}
	if b.Run != nil && len(c.spec.Cmd) > 0 && c.State == "running" {
		h.runCmd(c, b.Run)
	}
	h.wakeLogs()
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
	h.wakeLogs()
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
		h.wakeLogs()
	}
	if name == "luma-proxy" { // its successor runs its own image's binary
		h.proxyInfo = drivers.ProxyInfo{}
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

// Connect attaches a container to a network with aliases. As with Docker,
// aliases cannot be edited: connecting again with the same aliases is no
// error, with others it is ErrConflict.
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
	if have, ok := c.Networks[network]; ok {
		if sameSet(have, aliases) {
			return nil
		}
		return fmt.Errorf("container %s on network %s: %w with aliases %v, not %v", name, network, drivers.ErrConflict, have, aliases)
	}
	c.Networks[network] = aliasList(aliases)
	return nil
}

// Disconnect detaches a container from a network; not connected (or either
// of them missing) is no error, as with the docker driver.
func (h *Host) Disconnect(ctx context.Context, network, name string) error {
	if err := h.call(ctx, "Disconnect", name); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.containers[name]; ok {
		delete(c.Networks, network)
	}
	return nil
}

// bridge is the network a container created without one is on.
const bridge = "bridge"

// aliasList is aliases as Inspect reports them: never nil.
func aliasList(aliases []string) []string {
	if aliases == nil {
		return []string{}
	}
	return slices.Clone(aliases)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// AddImage puts images on the host, as a build would: each call makes new
// image IDs, so re-adding a ref is a rebuild under the same tag.
func (h *Host) AddImage(refs ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range refs {
		h.nextID++
		id := fmt.Sprintf("sha256:%s-%d-%d", h.name, h.nextID, len(r))
		h.images[r] = id
		h.imageCreated[id] = imageTime{h.clock.Now(), h.nextID}
	}
}

// HasImage tells whether the host has ref.
func (h *Host) HasImage(ctx context.Context, ref string) (bool, error) {
	if err := h.call(ctx, "HasImage", ref); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.imageID(ref) != "", nil
}

// ImageID is ref's ID on this host, "" when absent.
func (h *Host) ImageID(ctx context.Context, ref string) (string, error) {
	if err := h.call(ctx, "ImageID", ref); err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.imageID(ref), nil
}

// imageID is the ID of ref, a name or, as the engine takes it, an ID of
// an image the host holds. The host's lock is held.
func (h *Host) imageID(ref string) string {
	if id := h.images[ref]; id != "" {
		return id
	}
	if strings.HasPrefix(ref, "sha256:") {
		for _, id := range h.images {
			if id == ref {
				return id
			}
		}
	}
	return ""
}

const imagePrefix = "fake-image "

// savedImage is what SaveImage writes after imagePrefix.
type savedImage struct {
	Ref    string            `json:"ref"`
	ID     string            `json:"id"`
	Labels map[string]string `json:"labels,omitempty"`
	// Created is when the image was made; a load keeps it.
	Created time.Time    `json:"created"`
	Layers  []savedLayer `json:"layers,omitempty"`
}

// SaveImage returns a "tar" that LoadImage of any fake host understands.
func (h *Host) SaveImage(ctx context.Context, ref string) (io.ReadCloser, error) {
	if err := h.call(ctx, "SaveImage", ref); err != nil {
		return nil, err
	}
	t, err := h.save(ref, nil)
	if err != nil {
		return nil, err
	}
	return t.ReadCloser, nil
}

// SaveImageFor is SaveImage without the layers in have: the "tar" is the
// image's description followed by as many bytes as the layers sent.
func (h *Host) SaveImageFor(ctx context.Context, ref string, have map[string]bool) (*drivers.ImageTar, error) {
	if err := h.call(ctx, "SaveImageFor", ref); err != nil {
		return nil, err
	}
	return h.save(ref, have)
}

func (h *Host) save(ref string, have map[string]bool) (*drivers.ImageTar, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.images[ref]
	if id == "" {
		return nil, fmt.Errorf("image %s: %w", ref, drivers.ErrNotFound)
	}
	img := savedImage{Ref: ref, ID: id, Labels: h.imageLabels[id], Created: h.imageCreated[id].at}
	var sent, whole int64
	var omitted []string
	for _, l := range h.layersOf(id) {
		s := savedLayer{Layer: l, Sent: !have[l.Chain]}
		img.Layers = append(img.Layers, s)
		whole += l.Size
		if s.Sent {
			sent += l.Size
		} else {
			omitted = append(omitted, l.Chain)
		}
	}
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	head := imagePrefix + string(b)
	r := io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, sent))
	return &drivers.ImageTar{ReadCloser: io.NopCloser(r), Size: int64(len(head)) + sent, Whole: int64(len(head)) + whole, Omitted: omitted}, nil
}

// LayerChains is the chain of every layer of every image on the host.
func (h *Host) LayerChains(ctx context.Context) (map[string]bool, error) {
	if err := h.call(ctx, "LayerChains", ""); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.layerChains(), nil
}

func (h *Host) layerChains() map[string]bool {
	out := map[string]bool{}
	for id := range h.imageCreated {
		for _, l := range h.layersOf(id) {
			out[l.Chain] = true
		}
	}
	return out
}

// Layer is one layer of a fake image: its chain ID (which names the
// layers below too) and size.
type Layer = drivers.Layer

// SetLayers gives the image ref the layers, base first. An image without
// them has one layer of ImageSize bytes of its own.
func (h *Host) SetLayers(ref string, layers ...Layer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.imageLayers[h.images[ref]] = slices.Clone(layers)
}

func (h *Host) layersOf(id string) []Layer {
	if l, ok := h.imageLayers[id]; ok {
		return l
	}
	return []Layer{{Chain: "layer-of-" + id, Size: ImageSize}}
}

type savedLayer struct {
	Layer
	Sent bool `json:"sent"`
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// LoadImage loads what SaveImage or SaveImageFor wrote. As the Engine's
// load, it fails when a layer left out of the tar is not on this host.
func (h *Host) LoadImage(ctx context.Context, tar io.Reader) error {
	if err := h.call(ctx, "LoadImage", ""); err != nil {
		return err
	}
	prefix := make([]byte, len(imagePrefix))
	var img savedImage
	if _, err := io.ReadFull(tar, prefix); err != nil || string(prefix) != imagePrefix {
		return fmt.Errorf("load image: not an image tar")
	}
	dec := json.NewDecoder(tar)
	if dec.Decode(&img) != nil || img.Ref == "" || img.ID == "" {
		return fmt.Errorf("load image: not an image tar")
	}
	if _, err := io.Copy(io.Discard, io.MultiReader(dec.Buffered(), tar)); err != nil {
		return err // the layers' bytes
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	have := h.layerChains()
	layers := make([]Layer, 0, len(img.Layers))
	for _, l := range img.Layers {
		if !l.Sent && !have[l.Chain] {
			return fmt.Errorf("load image: layer %s is neither in the tar nor on this engine", l.Chain)
		}
		layers = append(layers, l.Layer)
	}
	h.images[img.Ref] = img.ID // a load keeps the image's ID, labels and time
	if _, ok := h.imageCreated[img.ID]; !ok {
		h.nextID++
		h.imageCreated[img.ID] = imageTime{img.Created, h.nextID}
	}
	if len(img.Labels) > 0 {
		h.imageLabels[img.ID] = img.Labels
	}
	if len(layers) > 0 {
		h.imageLayers[img.ID] = layers
	}
	return nil
}

// BuildImage tags spec.Tag with a new image carrying spec.Labels. The
// context is not read: labels of a base image (FROM) are not inherited.
func (h *Host) BuildImage(ctx context.Context, spec drivers.BuildSpec, _ io.Reader) error {
	if err := h.call(ctx, "BuildImage", spec.Tag); err != nil {
		return err
	}
	h.AddImage(spec.Tag)
	h.mu.Lock()
	for _, t := range spec.Tags {
		h.images[t] = h.images[spec.Tag]
	}
	if len(spec.Labels) > 0 {
		h.imageLabels[h.images[spec.Tag]] = maps.Clone(spec.Labels)
	}
	h.mu.Unlock()
	return nil
}

// Exec runs cmd in a running container as its Behavior's Exec says (by
// default it succeeds with no output); a non-zero exit is an error carrying
// stderr, as with the docker driver.
func (h *Host) Exec(ctx context.Context, name string, cmd []string, stdin []byte) ([]byte, error) {
	if err := h.call(ctx, "Exec", name); err != nil {
		return nil, err
	}
	run, what, err := h.execIn(name, cmd)
	if err != nil {
		return nil, err
	}
	stdout, stderr, code := run(cmd, stdin)
	return stdout, exitError(what, code, stderr)
}

// execIn returns what cmd does in container name, or why it cannot run
// there.
func (h *Host) execIn(name string, cmd []string) (ExecFunc, string, error) {
	what := "exec " + cmdName(cmd) + " in " + name
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[name]
	switch {
	case !ok:
		return nil, what, fmt.Errorf("%s: container %s: %w", what, name, drivers.ErrNotFound)
	case !c.Running():
		return nil, what, fmt.Errorf("%s: container %s is not running", what, name)
	}
	if run := h.behavior(c).Exec; run != nil {
		return run, what, nil
	}
	return func([]string, []byte) ([]byte, []byte, int) { return nil, nil, 0 }, what, nil
}

func cmdName(cmd []string) string {
	if len(cmd) == 0 {
		return "(default)"
	}
	return cmd[0]
}

// exitError is nil for code 0, else the code with stderr, trimmed.
func exitError(what string, code int, stderr []byte) error {
	if code == 0 {
		return nil
	}
	if msg := strings.TrimSpace(string(stderr)); msg != "" {
		return fmt.Errorf("%s: exit code %d: %s", what, code, msg)
	}
	return fmt.Errorf("%s: exit code %d", what, code)
}

// ExecStream runs cmd in a running container as Exec does, once its stdin
// ends: the command's stdout follows then. Cancelling ctx cuts the stream.
// The fake's proxy side is the Host itself, never reached through exec.
func (h *Host) ExecStream(ctx context.Context, name string, cmd []string) (drivers.ExecSession, error) {
	if err := h.call(ctx, "ExecStream", name); err != nil {
		return nil, err
	}
	run, what, err := h.execIn(name, cmd)
	if err != nil {
		return nil, err
	}
	r, w := io.Pipe()
	s := &execSession{w: w, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		stdin, err := io.ReadAll(r)
		if err != nil {
			s.err = fmt.Errorf("%s: %w", what, err)
			return
		}
		stdout, stderr, code := run(cmd, stdin)
		s.stdout = bytes.NewReader(stdout)
		s.err = exitError(what, code, stderr)
	}()
	context.AfterFunc(ctx, func() { w.CloseWithError(ctx.Err()) })
	return s, nil
}

type execSession struct {
	w      *io.PipeWriter
	done   chan struct{}
	stdout *bytes.Reader // set before done is closed
	err    error         // set before done is closed
}

func (s *execSession) Write(p []byte) (int, error) { return s.w.Write(p) }
func (s *execSession) Close() error                { return s.w.Close() }
func (s *execSession) Stdout() io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		<-s.done
		if s.stdout == nil {
			return 0, io.EOF
		}
		return s.stdout.Read(p)
	})
}
func (s *execSession) Wait() error { <-s.done; return s.err }

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
		h.wakeLogs()
	}
}

// SetLabels changes a container's labels, as a container made by an older
// luma would carry them (an empty value removes the label).
func (h *Host) SetLabels(name string, labels map[string]string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.containers[name]
	if !ok {
		return
	}
	l := maps.Clone(c.Labels)
	for k, v := range labels {
		if v == "" {
			delete(l, k)
		} else {
			l[k] = v
		}
	}
	c.Labels = l
}
