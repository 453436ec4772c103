// Package enginetest is the contract of drivers.Engine: one suite of
// engine-level assertions that runs, unchanged, against the real Docker
// Engine (drivers/docker) and against the fake (drivers/fake), so the fake
// that unit tests trust cannot drift from the engine. Where they disagree,
// the engine is right and the fake is fixed.
//
// Left out on purpose, because the fake does not model them: timing (how
// long a stop takes, the exit code of a stop whose signal comes before the
// app handles it, or of one that runs out of time and kills), restart
// policies and crashes (the fake's Behavior declares them), published
// ports, volumes, and what an image's files do.
package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// Subject is one implementation under test, with what the suite needs that
// the Engine interface cannot give.
type Subject struct {
	Engine drivers.Engine
	// Sessions is Engine's drivers.Sessions: attached execs and one-offs.
	Sessions drivers.Sessions
	// Image is on Engine. Its default command runs until stopped and exits
	// on SIGTERM; exec'd, `/hello cat` and `/hello exit CODE MSG` do what
	// examples/hello's tool does (see HelloTool).
	Image string
	// Labels go on every container and network the suite makes, so the
	// subject can sweep them away at cleanup (networks cannot be removed
	// through the interface). May be nil.
	Labels map[string]string
	// Env returns the environment container name has, as the engine keeps
	// it (Container does not report it).
	Env func(ctx context.Context, name string) ([]string, error)
	// RemoveImage removes an image the suite built.
	RemoveImage func(ctx context.Context, ref string) error
	// RemoveVolume removes a named volume a container of the suite made
	// (nil: the subject keeps none).
	RemoveVolume func(ctx context.Context, name string) error
	// Registry, when set, is a registry with basic auth that Engine
	// reaches: pulls, pushes and checks run against it. Without it only
	// an unreachable registry is tried.
	Registry *Registry
}

// Registry is a registry the subject's engine reaches.
type Registry struct {
	Host, User, Password string // Host is host:port, as image refs name it
}

// HelloTool is what examples/hello does when exec'd with args (`hello
// cat`, `hello exit CODE MSG`), for a fake to answer Exec as the image does.
func HelloTool(cmd []string, stdin []byte) (stdout, stderr []byte, code int) {
	args := cmd
	if len(args) > 0 && args[0] == "/hello" {
		args = args[1:]
	}
	switch {
	case len(args) == 0:
		return nil, []byte("hello: no command\n"), 1
	case args[0] == "cat":
		return stdin, nil, 0
	case args[0] == "exit":
		code := 1
		if len(args) > 1 {
			code, _ = strconv.Atoi(args[1])
		}
		if len(args) > 2 {
			stderr = []byte(args[2] + "\n")
		}
		return nil, stderr, code
	}
	return nil, []byte("hello: unknown command " + strconv.Quote(args[0]) + "\n"), 1
}

// Run runs the contract. newSubject is called once per subtest.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Lifecycle", testLifecycle},
		{"Missing", testMissing},
		{"LabelsAndEnv", testLabelsAndEnv},
		{"List", testList},
		{"CreateOnNetwork", testCreateOnNetwork},
		{"ConnectDisconnect", testConnectDisconnect},
		{"Images", testImages},
		{"ImageLabels", testImageLabels},
		{"LayerTransfer", testLayerTransfer},
		{"ImageStore", testImageStore},
		{"ImageLayers", testImageLayers},
		{"Exec", testExec},
		{"ExecStream", testExecStream},
		{"Logs", testLogs},
		{"Attach", testAttach},
		{"RunOnce", testRunOnce},
		{"Platform", testPlatform},
		{"Registry", testRegistry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSubject(t)
			tc.fn(t, &env{Subject: s, e: s.Engine, run: unique()})
		})
	}
}

// env is one subtest's subject with its unique names.
type env struct {
	Subject
	e   drivers.Engine
	run string // unique to this subtest: names and the run label
}

const runLabel = "luma.contract"

func unique() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// name is a container or network name unique to the run.
func (v *env) name(what string) string { return "luma-contract-" + v.run + "-" + what }

// labels are the subject's labels, the run label and extra.
func (v *env) labels(extra ...string) map[string]string {
	l := map[string]string{runLabel: v.run}
	for k, val := range v.Labels {
		l[k] = val
	}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

// spec is a container of the subject's image, labelled for the run.
func (v *env) spec(what string) drivers.ContainerSpec {
	return drivers.ContainerSpec{
		Name:       v.name(what),
		Image:      v.Image,
		Labels:     v.labels(),
		StopSignal: "SIGTERM",
		// Short: a SIGTERM that comes before the app handles it is lost
		// (it is PID 1), and the stop then waits out the timeout and kills.
		StopTimeout: 2 * time.Second,
		Restart:     "no",
	}
}

// create creates spec and removes the container at cleanup.
func (v *env) create(t *testing.T, spec drivers.ContainerSpec) {
	t.Helper()
	t.Cleanup(func() {
		if err := v.e.Remove(context.Background(), spec.Name); err != nil {
			t.Errorf("cleanup: remove %s: %v", spec.Name, err)
		}
	})
	if err := v.e.Create(ctx(t), spec); err != nil {
		t.Fatalf("Create %s: %v", spec.Name, err)
	}
}

func (v *env) start(t *testing.T, name string) {
	t.Helper()
	if err := v.e.Start(ctx(t), name); err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
}

func (v *env) inspect(t *testing.T, name string) drivers.Container {
	t.Helper()
	c, err := v.e.Inspect(ctx(t), name)
	if err != nil {
		t.Fatalf("Inspect %s: %v", name, err)
	}
	return c
}

func (v *env) network(t *testing.T) string {
	t.Helper()
	n := v.name("net")
	if err := v.e.EnsureNetwork(ctx(t), n, v.labels()); err != nil {
		t.Fatalf("EnsureNetwork %s: %v", n, err)
	}
	return n
}

func testLifecycle(t *testing.T, v *env) {
	spec := v.spec("life")
	vol := v.name("vol")
	spec.Volumes = []string{vol + ":/data", "/tmp:/hosttmp:ro"}
	if v.RemoveVolume != nil {
		t.Cleanup(func() { // after the container's removal (cleanups run last first)
			if err := v.RemoveVolume(context.Background(), vol); err != nil {
				t.Errorf("cleanup: remove volume %s: %v", vol, err)
			}
		})
	}
	v.create(t, spec)
	c := v.inspect(t, spec.Name)
	if c.State != "created" || c.Running() || c.Name != spec.Name || c.Image != v.Image || c.ID == "" {
		t.Errorf("after Create: %+v", c)
	}
	// Named volumes by destination; a host path is none.
	if len(c.Volumes) != 1 || c.Volumes["/data"] != vol {
		t.Errorf("volumes after Create: %v, want /data → %s", c.Volumes, vol)
	}
	if !c.StartedAt.IsZero() {
		t.Errorf("never started, yet StartedAt = %v", c.StartedAt)
	}
	if err := v.e.Create(ctx(t), spec); !errors.Is(err, drivers.ErrConflict) {
		t.Errorf("Create of an existing name: %v, want ErrConflict", err)
	}

	// Stopping a container that never ran does nothing.
	if err := v.e.Stop(ctx(t), spec.Name, spec.StopTimeout); err != nil {
		t.Errorf("Stop of a created container: %v", err)
	}
	if c := v.inspect(t, spec.Name); c.State != "created" {
		t.Errorf("after Stop of a created container: state %s, want created", c.State)
	}

	v.start(t, spec.Name)
	c = v.inspect(t, spec.Name)
	if c.State != "running" || !c.Running() || c.StartedAt.IsZero() || c.ID == "" {
		t.Errorf("after Start: %+v", c)
	}
	// Starting a running container changes nothing.
	if err := v.e.Start(ctx(t), spec.Name); err != nil {
		t.Errorf("Start of a running container: %v", err)
	}
	if again := v.inspect(t, spec.Name); again.State != "running" || !again.StartedAt.Equal(c.StartedAt) {
		t.Errorf("after a second Start: state %s, started %v, want running since %v", again.State, again.StartedAt, c.StartedAt)
	}

	// The exit code of a stop is not asserted: a SIGTERM that comes before
	// the app handles it ends it otherwise, and the fake has no app.
	if err := v.e.Stop(ctx(t), spec.Name, spec.StopTimeout); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	c = v.inspect(t, spec.Name)
	if c.State != "exited" || c.Running() || c.StartedAt.IsZero() {
		t.Errorf("after Stop: %+v", c)
	}
	if err := v.e.Stop(ctx(t), spec.Name, spec.StopTimeout); err != nil {
		t.Errorf("Stop of a stopped container: %v", err)
	}
	if c := v.inspect(t, spec.Name); c.State != "exited" {
		t.Errorf("after a second Stop: state %s, want exited", c.State)
	}

	// A stopped container starts again.
	v.start(t, spec.Name)
	if c := v.inspect(t, spec.Name); c.State != "running" || c.ExitCode != 0 {
		t.Errorf("after a restart: state %s exit %d, want running 0", c.State, c.ExitCode)
	}

	// Remove takes a running container away.
	if err := v.e.Remove(ctx(t), spec.Name); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := v.e.Inspect(ctx(t), spec.Name); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
	}
	if err := v.e.Remove(ctx(t), spec.Name); err != nil {
		t.Errorf("Remove of a removed container: %v", err)
	}
	// The name is free again.
	v.create(t, spec)
}

func testMissing(t *testing.T, v *env) {
	missing := v.name("missing")
	net := v.network(t)
	for op, err := range map[string]error{
		"Inspect": func() error { _, err := v.e.Inspect(ctx(t), missing); return err }(),
		"Start":   v.e.Start(ctx(t), missing),
		"Stop":    v.e.Stop(ctx(t), missing, time.Second),
		"Exec":    func() error { _, err := v.e.Exec(ctx(t), missing, []string{"/hello", "cat"}, nil); return err }(),
		"ExecStream": func() error {
			s, err := v.e.ExecStream(ctx(t), missing, []string{"/hello", "cat"})
			if err == nil { // an implementation may report it at Wait
				s.Close()
				io.Copy(io.Discard, s.Stdout())
				err = s.Wait()
			}
			return err
		}(),
		"Connect": v.e.Connect(ctx(t), net, missing, nil),
		"Create with a missing image": func() error {
			spec := v.spec("missing")
			spec.Image = "luma-contract-missing:" + v.run
			return v.e.Create(ctx(t), spec)
		}(),
	} {
		if !errors.Is(err, drivers.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", op, err)
		}
	}
	if _, err := v.e.Inspect(ctx(t), missing); err == nil {
		t.Errorf("a failed Create left %s behind", missing)
	}
	if err := v.e.Remove(ctx(t), missing); err != nil {
		t.Errorf("Remove of a missing container: %v", err)
	}

	// The engine checks the network at Start, not at Create.
	spec := v.spec("lost")
	spec.Network = v.name("no-such-net")
	v.create(t, spec)
	if err := v.e.Start(ctx(t), spec.Name); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Start on a missing network: %v, want ErrNotFound", err)
	}
	if c := v.inspect(t, spec.Name); c.State != "created" {
		t.Errorf("after a failed Start: state %s, want created", c.State)
	}
	if err := v.e.Disconnect(ctx(t), net, missing); err != nil {
		t.Errorf("Disconnect of a missing container: %v", err)
	}
}

func testLabelsAndEnv(t *testing.T, v *env) {
	spec := v.spec("labels")
	spec.Labels = v.labels("luma.project", "blog", "luma.app", "web", "luma.color", "blue", "luma.empty", "")
	spec.Env = []string{"LUMA_COLOR=blue", "SECRET=hunter2", "EMPTY=", "WITH_EQUALS=a=b"}
	want := map[string]string{}
	for k, val := range spec.Labels {
		want[k] = val
	}
	v.create(t, spec)
	// The engine keeps what it was given, not the caller's maps.
	spec.Labels["luma.color"] = "green"
	spec.Env[0] = "LUMA_COLOR=green"

	check := func(how string, c drivers.Container) {
		t.Helper()
		for k, val := range want {
			if got, ok := c.Labels[k]; !ok || got != val {
				t.Errorf("%s: label %s = %q (present %v), want %q", how, k, got, ok, val)
			}
		}
	}
	check("Inspect", v.inspect(t, spec.Name))
	list, err := v.e.List(ctx(t), map[string]string{runLabel: v.run})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != spec.Name {
		t.Fatalf("List = %v, want [%s]", names(list), spec.Name)
	}
	check("List", list[0])

	env, err := v.Env(ctx(t), spec.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"LUMA_COLOR=blue", "SECRET=hunter2", "EMPTY=", "WITH_EQUALS=a=b"} {
		if !slices.Contains(env, kv) {
			t.Errorf("env %q missing from %q", kv, env)
		}
	}
}

func testList(t *testing.T, v *env) {
	type ctr struct{ what, role, color string }
	all := []ctr{{"a", "web", "blue"}, {"b", "web", "green"}, {"c", "worker", "blue"}}
	for _, c := range all {
		spec := v.spec(c.what)
		spec.Labels = v.labels("luma.role", c.role, "luma.color", c.color)
		v.create(t, spec)
	}
	// a stays created, b runs and is stopped, c runs.
	v.start(t, v.name("b"))
	if err := v.e.Stop(ctx(t), v.name("b"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	v.start(t, v.name("c"))

	for _, tc := range []struct {
		filter map[string]string
		want   []string
	}{
		{map[string]string{runLabel: v.run}, []string{"a", "b", "c"}},
		{map[string]string{runLabel: v.run, "luma.role": "web"}, []string{"a", "b"}},
		{map[string]string{runLabel: v.run, "luma.color": "blue"}, []string{"a", "c"}},
		{map[string]string{runLabel: v.run, "luma.role": "web", "luma.color": "blue"}, []string{"a"}},
		{map[string]string{runLabel: v.run, "luma.role": "web", "luma.color": "red"}, nil},
		{map[string]string{runLabel: v.run, "luma.nope": "web"}, nil},
		{map[string]string{runLabel: v.run, "luma.role": ""}, nil},
	} {
		list, err := v.e.List(ctx(t), tc.filter)
		if err != nil {
			t.Fatalf("List %v: %v", tc.filter, err)
		}
		var want []string
		for _, w := range tc.want {
			want = append(want, v.name(w))
		}
		if got := names(list); !slices.Equal(got, want) {
			t.Errorf("List %v = %v, want %v (sorted by name)", tc.filter, got, want)
		}
	}
	list, err := v.e.List(ctx(t), map[string]string{runLabel: v.run})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, c := range list {
		states[c.Name] = c.State
		if in := v.inspect(t, c.Name); in.ID != c.ID || in.State != c.State || !in.StartedAt.Equal(c.StartedAt) {
			t.Errorf("List and Inspect disagree on %s: %+v and %+v", c.Name, c, in)
		}
	}
	if states[v.name("a")] != "created" || states[v.name("b")] != "exited" || states[v.name("c")] != "running" {
		t.Errorf("List states = %v, want a created, b exited, c running", states)
	}
}

func testCreateOnNetwork(t *testing.T, v *env) {
	net := v.network(t)
	if err := v.e.EnsureNetwork(ctx(t), net, v.labels()); err != nil {
		t.Errorf("EnsureNetwork of an existing network: %v", err)
	}
	spec := v.spec("aliased")
	spec.Network, spec.Aliases = net, []string{"web", "blog-web"}
	v.create(t, spec)
	c := v.inspect(t, spec.Name)
	if got := c.Networks[net]; !sameSet(got, spec.Aliases) || len(c.Networks) != 1 {
		t.Errorf("after Create: networks %v, want only %s with aliases %v", c.Networks, net, spec.Aliases)
	}
	v.start(t, spec.Name)
	c = v.inspect(t, spec.Name)
	if got := c.Networks[net]; !sameSet(got, spec.Aliases) || len(c.Networks) != 1 {
		t.Errorf("after Start: networks %v, want only %s with aliases %v", c.Networks, net, spec.Aliases)
	}

	plain := v.spec("plain")
	plain.Network = net
	v.create(t, plain)
	if c := v.inspect(t, plain.Name); len(c.Networks) != 1 || len(c.Networks[net]) != 0 {
		t.Errorf("created on %s without aliases: networks %v", net, c.Networks)
	}

	// Without a network a container is on the engine's default bridge,
	// where aliases do not exist.
	def := v.spec("default")
	v.create(t, def)
	if c := v.inspect(t, def.Name); len(c.Networks) != 1 || c.Networks["bridge"] == nil || len(c.Networks["bridge"]) != 0 {
		t.Errorf("created without a network: networks %v, want bridge with no aliases", c.Networks)
	}
}

func testConnectDisconnect(t *testing.T, v *env) {
	net := v.network(t)
	other := v.name("net2")
	if err := v.e.EnsureNetwork(ctx(t), other, v.labels()); err != nil {
		t.Fatal(err)
	}
	spec := v.spec("conn")
	spec.Network = other
	v.create(t, spec)
	v.start(t, spec.Name)

	aliases := []string{"blog", "blog-web"}
	if err := v.e.Connect(ctx(t), net, spec.Name, aliases); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	c := v.inspect(t, spec.Name)
	if !sameSet(c.Networks[net], aliases) || c.Networks[other] == nil || len(c.Networks) != 2 {
		t.Errorf("after Connect: networks %v, want %s %v and %s", c.Networks, net, aliases, other)
	}
	// The same aliases again is no change; others cannot be set in place.
	if err := v.e.Connect(ctx(t), net, spec.Name, []string{"blog-web", "blog"}); err != nil {
		t.Errorf("Connect again with the same aliases: %v", err)
	}
	if err := v.e.Connect(ctx(t), net, spec.Name, []string{"other"}); !errors.Is(err, drivers.ErrConflict) {
		t.Errorf("Connect again with other aliases: %v, want ErrConflict", err)
	}
	if err := v.e.Connect(ctx(t), net, spec.Name, nil); !errors.Is(err, drivers.ErrConflict) {
		t.Errorf("Connect again without aliases: %v, want ErrConflict", err)
	}
	if got := v.inspect(t, spec.Name).Networks[net]; !sameSet(got, aliases) {
		t.Errorf("a refused Connect changed the aliases to %v", got)
	}

	if err := v.e.Disconnect(ctx(t), net, spec.Name); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	c = v.inspect(t, spec.Name)
	if _, ok := c.Networks[net]; ok || c.Networks[other] == nil {
		t.Errorf("after Disconnect: networks %v, want only %s", c.Networks, other)
	}
	if err := v.e.Disconnect(ctx(t), net, spec.Name); err != nil {
		t.Errorf("Disconnect of a container not on the network: %v", err)
	}
	if err := v.e.Disconnect(ctx(t), v.name("no-such-net"), spec.Name); err != nil {
		t.Errorf("Disconnect from a missing network: %v", err)
	}
	// Disconnect then Connect moves an alias, as the switch does.
	if err := v.e.Connect(ctx(t), net, spec.Name, []string{"blog"}); err != nil {
		t.Fatalf("Connect after Disconnect: %v", err)
	}
	if got := v.inspect(t, spec.Name).Networks[net]; !sameSet(got, []string{"blog"}) {
		t.Errorf("aliases after reconnecting = %v, want [blog]", got)
	}
	if err := v.e.Connect(ctx(t), v.name("no-such-net"), spec.Name, nil); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Connect to a missing network: %v, want ErrNotFound", err)
	}

	// A container that never ran can be connected too.
	created := v.spec("conn-created")
	created.Network = other
	v.create(t, created)
	if err := v.e.Connect(ctx(t), net, created.Name, []string{"x"}); err != nil {
		t.Fatalf("Connect of a created container: %v", err)
	}
	if got := v.inspect(t, created.Name).Networks[net]; !sameSet(got, []string{"x"}) {
		t.Errorf("aliases of a created container = %v, want [x]", got)
	}
}

func testImages(t *testing.T, v *env) {
	ok, err := v.e.HasImage(ctx(t), v.Image)
	if err != nil || !ok {
		t.Errorf("HasImage(%s) = %v, %v", v.Image, ok, err)
	}
	id, err := v.e.ImageID(ctx(t), v.Image)
	if err != nil || id == "" {
		t.Fatalf("ImageID(%s) = %q, %v", v.Image, id, err)
	}
	if again, err := v.e.ImageID(ctx(t), v.Image); again != id || err != nil {
		t.Errorf("ImageID again = %q, %v, want %q", again, err, id)
	}
	missing := "luma-contract-missing:" + v.run
	if ok, err := v.e.HasImage(ctx(t), missing); ok || err != nil {
		t.Errorf("HasImage of a missing image = %v, %v, want false, nil", ok, err)
	}
	if got, err := v.e.ImageID(ctx(t), missing); got != "" || err != nil {
		t.Errorf("ImageID of a missing image = %q, %v, want \"\", nil", got, err)
	}
	if _, err := v.e.SaveImage(ctx(t), missing); err == nil {
		t.Error("SaveImage of a missing image: no error")
	}
}

// testLayerTransfer: a save for an engine that holds every layer of the
// image carries none of them and still loads there as the same image; a
// save for an engine that holds none is the whole image.
func testLayerTransfer(t *testing.T, v *env) {
	have, err := v.e.LayerChains(ctx(t))
	if err != nil || len(have) == 0 {
		t.Fatalf("LayerChains = %d chains, %v; the engine has %s", len(have), err, v.Image)
	}
	whole, err := v.e.SaveImageFor(ctx(t), v.Image, nil)
	if err != nil {
		t.Fatalf("SaveImageFor without layers known: %v", err)
	}
	n, err := io.Copy(io.Discard, whole)
	whole.Close()
	if err != nil || whole.Size != whole.Whole || n < whole.Whole/2 || n > whole.Whole*2 {
		t.Errorf("whole save: read %d bytes (%v), Size %d, Whole %d", n, err, whole.Size, whole.Whole)
	}
	id, _ := v.e.ImageID(ctx(t), v.Image)
	tar, err := v.e.SaveImageFor(ctx(t), v.Image, have)
	if err != nil {
		t.Fatalf("SaveImageFor: %v", err)
	}
	defer tar.Close()
	if d := tar.Whole - whole.Whole; tar.Size >= tar.Whole || d*100 > whole.Whole || -d*100 > whole.Whole {
		t.Errorf("save without the engine's layers: Size %d, Whole %d (whole save %d)", tar.Size, tar.Whole, whole.Whole)
	}
	if err := v.e.LoadImage(ctx(t), tar); err != nil {
		t.Fatalf("LoadImage of a save without the engine's layers: %v", err)
	}
	if got, _ := v.e.ImageID(ctx(t), v.Image); got != id {
		t.Errorf("after the load, %s is %q, want %q", v.Image, got, id)
	}
	if _, err := v.e.SaveImageFor(ctx(t), "luma-contract-missing:"+v.run, have); err == nil {
		t.Error("SaveImageFor of a missing image: no error")
	}
}

// testImageLabels builds an image with labels on top of the subject's:
// a container of it carries them, under its own.
func testImageLabels(t *testing.T, v *env) {
	ref := "luma-contract-labelled:" + v.run
	t.Cleanup(func() {
		if err := v.RemoveImage(context.Background(), ref); err != nil {
			t.Errorf("cleanup: remove image %s: %v", ref, err)
		}
	})
	build := drivers.BuildSpec{
		Tag:        ref,
		Dockerfile: "Dockerfile",
		Labels:     map[string]string{"contract.image": "yes", "contract.both": "image", runLabel: "image"},
	}
	context := tarOf(t, "Dockerfile", "FROM "+v.Image+"\n")
	if err := v.e.BuildImage(ctx(t), build, context); err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	if ok, err := v.e.HasImage(ctx(t), ref); !ok || err != nil {
		t.Fatalf("HasImage after BuildImage = %v, %v", ok, err)
	}
	base, _ := v.e.ImageID(ctx(t), v.Image)
	if id, err := v.e.ImageID(ctx(t), ref); id == "" || id == base || err != nil {
		t.Errorf("ImageID of the build = %q, %v; base is %q", id, err, base)
	}

	spec := v.spec("labelled")
	spec.Image = ref
	spec.Labels = v.labels("contract.both", "container")
	v.create(t, spec)
	c := v.inspect(t, spec.Name)
	for k, want := range map[string]string{"contract.image": "yes", "contract.both": "container", runLabel: v.run} {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q (labels %v)", k, got, want, c.Labels)
		}
	}
	list, err := v.e.List(ctx(t), map[string]string{runLabel: v.run, "contract.image": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(list); !slices.Equal(got, []string{spec.Name}) {
		t.Errorf("List by a label of the image = %v, want [%s]", got, spec.Name)
	}
}

func testExec(t *testing.T, v *env) {
	spec := v.spec("exec")
	v.create(t, spec)
	if _, err := v.e.Exec(ctx(t), spec.Name, []string{"/hello", "cat"}, nil); err == nil ||
		errors.Is(err, drivers.ErrNotFound) || errors.Is(err, drivers.ErrConflict) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Exec in a created container: %v, want a 'not running' error", err)
	}
	v.start(t, spec.Name)
	in := []byte(strings.Repeat(`{"op":"routes"}`+"\n", 1000))
	out, err := v.e.Exec(ctx(t), spec.Name, []string{"/hello", "cat"}, in)
	if err != nil || !bytes.Equal(out, in) {
		t.Errorf("Exec cat: %d bytes, %v; want %d bytes back", len(out), err, len(in))
	}
	if out, err := v.e.Exec(ctx(t), spec.Name, []string{"/hello", "cat"}, nil); err != nil || len(out) != 0 {
		t.Errorf("Exec cat without stdin: %q, %v", out, err)
	}
	_, err = v.e.Exec(ctx(t), spec.Name, []string{"/hello", "exit", "3", "route blog not found  \n"}, nil)
	if err == nil || !strings.HasSuffix(err.Error(), "exit code 3: route blog not found") {
		t.Errorf("Exec exiting 3: %v, want an error ending in the code and trimmed stderr", err)
	}
	if _, err := v.e.Exec(ctx(t), spec.Name, []string{"/hello", "exit", "4"}, nil); err == nil || !strings.HasSuffix(err.Error(), "exit code 4") {
		t.Errorf("Exec exiting 4 silently: %v", err)
	}
	if err := v.e.Stop(ctx(t), spec.Name, spec.StopTimeout); err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.Exec(ctx(t), spec.Name, []string{"/hello", "cat"}, nil); err == nil ||
		errors.Is(err, drivers.ErrNotFound) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Exec in a stopped container: %v, want a 'not running' error", err)
	}
}

func testExecStream(t *testing.T, v *env) {
	spec := v.spec("stream")
	v.create(t, spec)
	if _, err := v.e.ExecStream(ctx(t), spec.Name, []string{"/hello", "cat"}); err == nil || errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("ExecStream in a created container: %v, want an error", err)
	}
	v.start(t, spec.Name)

	s, err := v.e.ExecStream(ctx(t), spec.Name, []string{"/hello", "cat"})
	if err != nil {
		t.Fatal(err)
	}
	in := "one\ntwo\n"
	if _, err := io.WriteString(s, in); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(s.Stdout())
	if err != nil || string(out) != in {
		t.Errorf("ExecStream cat: %q, %v; want %q", out, err, in)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait: %v", err)
	}

	s, err = v.e.ExecStream(ctx(t), spec.Name, []string{"/hello", "exit", "5", "bad session"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	io.Copy(io.Discard, s.Stdout())
	if err := s.Wait(); err == nil || !strings.HasSuffix(err.Error(), "exit code 5: bad session") {
		t.Errorf("Wait of a stream exiting 5: %v", err)
	}

	// Cancelling the context cuts a stream whose command still reads.
	cctx, cancel := context.WithCancel(ctx(t))
	s, err = v.e.ExecStream(cctx, spec.Name, []string{"/hello", "cat"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := io.WriteString(s, "pending\n"); err != nil {
		t.Fatal(err)
	}
	cancel()
	io.Copy(io.Discard, s.Stdout())
	if err := s.Wait(); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait of a cut stream: %v, want context.Canceled", err)
	}
}

func testPlatform(t *testing.T, v *env) {
	p, err := v.e.Platform(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if os, arch, ok := strings.Cut(p, "/"); !ok || os == "" || arch == "" {
		t.Errorf("Platform = %q, want os/arch", p)
	}
}

func names(cs []drivers.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// tarOf is a build context of one file.
func tarOf(t *testing.T, name, content string) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

// testRegistry pushes a build to the registry, checks and pulls it, and
// sees each refusal classified: a wrong password, a missing tag, a
// registry nobody listens on. No message holds a password.
func testRegistry(t *testing.T, v *env) {
	gone := "127.0.0.1:1/luma-contract/none:" + v.run
	err := v.e.PullImage(ctx(t), gone, nil)
	wantRegistryError(t, "pull from a closed port", err, drivers.ErrRegistryUnreached, "127.0.0.1:1")
	if v.Registry == nil {
		return
	}
	r := v.Registry
	good := &drivers.RegistryAuth{Server: r.Host, Username: r.User, Password: r.Password}
	bad := &drivers.RegistryAuth{Server: r.Host, Username: r.User, Password: "wrong-" + v.run}
	ref := r.Host + "/luma-contract-" + v.run + ":1"
	missing := r.Host + "/luma-contract-" + v.run + ":missing"
	t.Cleanup(func() { v.RemoveImage(context.Background(), ref) })
	build := drivers.BuildSpec{Tag: ref, Dockerfile: "Dockerfile", Labels: map[string]string{"contract.pushed": v.run}}
	if err := v.e.BuildImage(ctx(t), build, tarOf(t, "Dockerfile", "FROM "+v.Image+"\n")); err != nil {
		t.Fatalf("BuildImage: %v", err)
	}
	id, _ := v.e.ImageID(ctx(t), ref)

	err = v.e.PushImage(ctx(t), ref, bad)
	wantRegistryError(t, "push with a wrong password", err, drivers.ErrUnauthorized, r.Host)
	if err := v.e.PushImage(ctx(t), ref, good); err != nil {
		t.Fatalf("PushImage: %v", err)
	}
	if err := v.e.CheckImage(ctx(t), ref, good); err != nil {
		t.Errorf("CheckImage of a pushed image: %v", err)
	}
	wantRegistryError(t, "check of a missing tag", v.e.CheckImage(ctx(t), missing, good), drivers.ErrImageNotFound, r.Host)
	wantRegistryError(t, "check with a wrong password", v.e.CheckImage(ctx(t), ref, bad), drivers.ErrUnauthorized, r.Host)
	wantRegistryError(t, "anonymous check", v.e.CheckImage(ctx(t), ref, nil), drivers.ErrUnauthorized, r.Host)
	if err := v.RemoveImage(ctx(t), ref); err != nil {
		t.Fatalf("remove image %s: %v", ref, err)
	}
	wantRegistryError(t, "pull of a missing tag", v.e.PullImage(ctx(t), missing, good), drivers.ErrImageNotFound, r.Host)
	wantRegistryError(t, "pull with a wrong password", v.e.PullImage(ctx(t), ref, bad), drivers.ErrUnauthorized, r.Host)
	var last drivers.Progress
	progress := drivers.WithProgress(ctx(t), func(p drivers.Progress) { last = p })
	if err := v.e.PullImage(progress, ref, good); err != nil {
		t.Fatalf("PullImage: %v", err)
	}
	if got, err := v.e.ImageID(ctx(t), ref); got != id || err != nil {
		t.Errorf("ImageID after the pull = %q, %v, want the pushed %q", got, err, id)
	}
	if last.Layers == 0 || last.Done != last.Layers {
		t.Errorf("last progress of the pull = %+v, want every layer done", last)
	}
}

func wantRegistryError(t *testing.T, what string, err, reason error, registry string) {
	t.Helper()
	var re *drivers.RegistryError
	switch {
	case !errors.As(err, &re):
		t.Errorf("%s: error %v (%T), want a *drivers.RegistryError", what, err, err)
	case !errors.Is(err, reason):
		t.Errorf("%s: reason of %q is %v, want %v", what, err, re.Reason, reason)
	case re.Registry != registry:
		t.Errorf("%s: registry %q, want %q", what, re.Registry, registry)
	case strings.Contains(err.Error(), "wrong-"):
		t.Errorf("%s: the error shows the password: %v", what, err)
	}
}
