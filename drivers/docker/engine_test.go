package docker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/testenv"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// engines returns the local Engine and the same Engine reached over SSH
// through a test sshd, by streamlocal forwarding and by dial-stdio.
func engines(t *testing.T) map[string]*docker.Engine {
	t.Helper()
	out := map[string]*docker.Engine{"local": testenv.Docker(t)}
	connect := func(name string, srv testenv.SSHServer) {
		e, err := docker.Connect(ctx(t), docker.Target{Server: "test-" + name, SSH: srv.Options()})
		if err != nil {
			t.Fatalf("Connect over %s: %v", name, err)
		}
		t.Cleanup(func() { e.Close() })
		out[name] = e
	}
	connect("ssh", testenv.SSHD(t))
	if _, err := exec.LookPath("docker"); err == nil {
		connect("dial-stdio", testenv.SSHD(t, testenv.NoStreamLocal()))
		if !out["dial-stdio"].SSH().UsesDialStdio() {
			t.Fatal("dial-stdio engine does not use dial-stdio")
		}
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestContainerLifecycle(t *testing.T) {
	image := testenv.BuildHello(t, "v1")
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			labels := testenv.Labels(t)
			net := testenv.Unique(t, "net")
			if err := e.EnsureNetwork(ctx(t), net, labels); err != nil {
				t.Fatal(err)
			}
			port := freePort(t)
			spec := drivers.ContainerSpec{
				Name:        testenv.Unique(t, "hello"),
				Image:       image,
				Labels:      map[string]string{testenv.TestLabel: labels[testenv.TestLabel], "luma.color": "blue"},
				Env:         []string{"LUMA_COLOR=blue", "SECRET=hunter2"},
				Network:     net,
				Aliases:     []string{"hello-blue"},
				Ports:       []string{"127.0.0.1:" + strconv.Itoa(port) + ":3000"},
				StopSignal:  "SIGTERM",
				StopTimeout: 1500 * time.Millisecond,
				Restart:     "no",
			}
			if err := e.Create(ctx(t), spec); err != nil {
				t.Fatal(err)
			}
			c, err := e.Inspect(ctx(t), spec.Name)
			if err != nil {
				t.Fatal(err)
			}
			if c.State != "created" || c.Image != image || c.Labels["luma.color"] != "blue" || c.Name != spec.Name {
				t.Errorf("after create: %+v", c)
			}
			if got := c.Networks[net]; len(got) != 1 || got[0] != "hello-blue" {
				t.Errorf("aliases on %s = %v, want [hello-blue]", net, got)
			}
			if err := e.Start(ctx(t), spec.Name); err != nil {
				t.Fatal(err)
			}
			c, err = e.Inspect(ctx(t), spec.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Running() || c.StartedAt.IsZero() || time.Since(c.StartedAt) > time.Minute {
				t.Errorf("after start: %+v", c)
			}

			base := "http://127.0.0.1:" + strconv.Itoa(port)
			waitUp(t, base+"/up")
			if body := get(t, base+"/"); body != "hello from v1 (blue)\n" {
				t.Errorf("GET / = %q", body)
			}

			list, err := e.List(ctx(t), map[string]string{testenv.TestLabel: labels[testenv.TestLabel], "luma.color": "blue"})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Name != spec.Name || list[0].Networks[net] == nil {
				t.Errorf("List = %+v", list)
			}
			if list, _ := e.List(ctx(t), map[string]string{testenv.TestLabel: labels[testenv.TestLabel], "luma.color": "green"}); len(list) != 0 {
				t.Errorf("List green = %+v", list)
			}

			// A request in flight when the stop begins completes: the
			// stop signal set at create reaches the app, which drains.
			slow := make(chan string, 1)
			go func() { slow <- getErr(base + "/slow?ms=700") }()
			time.Sleep(150 * time.Millisecond)
			if err := e.Stop(ctx(t), spec.Name, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if got := <-slow; got != "slept 700ms\n" {
				t.Errorf("in-flight request during stop: %q", got)
			}
			c, _ = e.Inspect(ctx(t), spec.Name)
			if c.State != "exited" || c.ExitCode != 0 {
				t.Errorf("after graceful stop: state %s exit %d, want exited 0", c.State, c.ExitCode)
			}
			if err := e.Stop(ctx(t), spec.Name, time.Second); err != nil {
				t.Errorf("Stop of a stopped container: %v", err)
			}
			if err := e.Remove(ctx(t), spec.Name); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Inspect(ctx(t), spec.Name); !errors.Is(err, drivers.ErrNotFound) {
				t.Errorf("Inspect after Remove: %v", err)
			}
			if err := e.Remove(ctx(t), spec.Name); err != nil {
				t.Errorf("Remove of a missing container: %v", err)
			}
		})
	}
}

func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not up: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func getErr(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestRestartingAndKilled(t *testing.T) {
	image := testenv.BuildHello(t, "v1")
	e := testenv.Docker(t)
	labels := testenv.Labels(t)
	name := testenv.Unique(t, "crash")
	if err := e.Create(ctx(t), drivers.ContainerSpec{Name: name, Image: image, Labels: labels, Env: []string{"CRASH=1"}, Restart: "always"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx(t), name); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := e.Inspect(ctx(t), name)
		if err != nil {
			t.Fatal(err)
		}
		if c.RestartCount > 0 && (c.State == "restarting" || c.State == "running") {
			if c.State == "restarting" && c.Running() {
				t.Error("Running() true while restarting")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no restart seen: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestErrors(t *testing.T) {
	image := testenv.BuildHello(t, "v1")
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			labels := testenv.Labels(t)
			spec := drivers.ContainerSpec{Name: testenv.Unique(t, "dup"), Image: image, Labels: labels, Env: []string{"SECRET=hunter2"}}
			if err := e.Create(ctx(t), spec); err != nil {
				t.Fatal(err)
			}
			err := e.Create(ctx(t), spec)
			if !errors.Is(err, drivers.ErrConflict) || !strings.Contains(err.Error(), spec.Name) {
				t.Errorf("second Create: %v, want ErrConflict naming %s", err, spec.Name)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks env: %v", err)
			}
			missing := testenv.Unique(t, "missing")
			for op, err := range map[string]error{
				"Start":   e.Start(ctx(t), missing),
				"Stop":    e.Stop(ctx(t), missing, time.Second),
				"Inspect": func() error { _, err := e.Inspect(ctx(t), missing); return err }(),
				"Exec":    func() error { _, err := e.Exec(ctx(t), missing, []string{"/hello", "cat"}, nil); return err }(),
				"Create with missing image": e.Create(ctx(t), drivers.ContainerSpec{
					Name: missing, Image: "luma-test-missing:none", Labels: labels, Env: []string{"SECRET=hunter2"}}),
			} {
				if !errors.Is(err, drivers.ErrNotFound) {
					t.Errorf("%s: %v, want ErrNotFound", op, err)
				}
				if err != nil && strings.Contains(err.Error(), "hunter2") {
					t.Errorf("%s: error leaks env: %v", op, err)
				}
			}
			if err := e.Remove(ctx(t), missing); err != nil {
				t.Errorf("Remove missing: %v", err)
			}
		})
	}
}

func TestNetworks(t *testing.T) {
	image := testenv.BuildHello(t, "v1")
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			labels := testenv.Labels(t)
			net := testenv.Unique(t, "net")
			// Racing creators end with one network.
			errs := make(chan error, 8)
			for range 8 {
				go func() { errs <- e.EnsureNetwork(ctx(t), net, labels) }()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if err := e.EnsureNetwork(ctx(t), net, labels); err != nil {
				t.Fatal(err)
			}
			if n := countNetworks(t, net); n != 1 {
				t.Fatalf("%d networks named %s, want 1", n, net)
			}

			ctr := testenv.Unique(t, "c")
			if err := e.Create(ctx(t), drivers.ContainerSpec{Name: ctr, Image: image, Labels: labels}); err != nil {
				t.Fatal(err)
			}
			if err := e.Start(ctx(t), ctr); err != nil {
				t.Fatal(err)
			}
			if err := e.Connect(ctx(t), net, ctr, []string{"blog", "blog-web"}); err != nil {
				t.Fatal(err)
			}
			c, _ := e.Inspect(ctx(t), ctr)
			if got := c.Networks[net]; len(got) != 2 {
				t.Errorf("aliases = %v, want [blog blog-web]", got)
			}
			if err := e.Connect(ctx(t), net, ctr, []string{"blog-web", "blog"}); err != nil {
				t.Errorf("Connect again with the same aliases: %v", err)
			}
			if err := e.Connect(ctx(t), net, ctr, []string{"other"}); !errors.Is(err, drivers.ErrConflict) {
				t.Errorf("Connect again with other aliases: %v, want ErrConflict", err)
			}
			if err := e.Disconnect(ctx(t), net, ctr); err != nil {
				t.Fatal(err)
			}
			c, _ = e.Inspect(ctx(t), ctr)
			if _, ok := c.Networks[net]; ok {
				t.Errorf("still on %s after Disconnect", net)
			}
			if err := e.Disconnect(ctx(t), net, ctr); err != nil {
				t.Errorf("Disconnect when not connected: %v", err)
			}
			if err := e.Connect(ctx(t), "luma-test-no-such-net", ctr, nil); !errors.Is(err, drivers.ErrNotFound) {
				t.Errorf("Connect to a missing network: %v, want ErrNotFound", err)
			}
		})
	}
}

func countNetworks(t *testing.T, name string) int {
	out, err := exec.Command("docker", "network", "ls", "-q", "--filter", "name=^"+name+"$").Output()
	if err != nil {
		t.Fatalf("docker network ls: %v", err)
	}
	return len(strings.Fields(string(out)))
}

func TestExec(t *testing.T) {
	image := testenv.BuildHello(t, "v1")
	for name, e := range engines(t) {
		t.Run(name, func(t *testing.T) {
			labels := testenv.Labels(t)
			ctr := testenv.Unique(t, "exec")
			if err := e.Create(ctx(t), drivers.ContainerSpec{Name: ctr, Image: image, Labels: labels}); err != nil {
				t.Fatal(err)
			}
			if err := e.Start(ctx(t), ctr); err != nil {
				t.Fatal(err)
			}
			in := []byte(strings.Repeat(`{"op":"routes"}`, 20000)) // 300 kB each way
			out, err := e.Exec(ctx(t), ctr, []string{"/hello", "cat"}, in)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(in) {
				t.Errorf("cat: got %d bytes, want %d", len(out), len(in))
			}
			out, err = e.Exec(ctx(t), ctr, []string{"/hello", "cat"}, nil)
			if err != nil || len(out) != 0 {
				t.Errorf("cat without stdin: %q %v", out, err)
			}
			_, err = e.Exec(ctx(t), ctr, []string{"/hello", "exit", "3", "route blog not found  \n"}, nil)
			if err == nil || !strings.HasSuffix(err.Error(), "exit code 3: route blog not found") {
				t.Errorf("non-zero exit: %v", err)
			}
			stopped := testenv.Unique(t, "stopped")
			if err := e.Create(ctx(t), drivers.ContainerSpec{Name: stopped, Image: image, Labels: labels}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Exec(ctx(t), stopped, []string{"/hello", "cat"}, nil); err == nil || errors.Is(err, drivers.ErrConflict) || !strings.Contains(err.Error(), "not running") {
				t.Errorf("exec in a stopped container: %v", err)
			}
			if _, err := e.Exec(ctx(t), ctr, []string{"/no-such-binary"}, nil); err == nil {
				t.Error("exec of a missing binary: no error")
			}
		})
	}
}

func TestImages(t *testing.T) {
	e := testenv.Docker(t)
	for name, remote := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ref := "luma-test-build:" + testenv.Unique(t, "x")
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
			dockerfile := "FROM scratch AS base\nARG GREETING\nLABEL greeting=$GREETING\nCOPY a.txt /a.txt\n" +
				"FROM base AS final\nCOPY missing.txt /missing.txt\n"
			tar, err := docker.TarFiles(map[string][]byte{"build/Dockerfile": []byte(dockerfile), "a.txt": []byte("a")}, nil)
			if err != nil {
				t.Fatal(err)
			}
			plat, err := remote.Platform(ctx(t))
			if err != nil || plat != "linux/"+runtime.GOARCH {
				t.Fatalf("Platform = %q, %v", plat, err)
			}
			spec := drivers.BuildSpec{Tag: ref, Dockerfile: "build/Dockerfile", Args: map[string]string{"GREETING": "hi"},
				Target: "base", Platform: plat, Labels: map[string]string{testenv.TestLabel: "build"}}
			if err := remote.BuildImage(ctx(t), spec, tar); err != nil {
				t.Fatal(err)
			}
			if ok, err := remote.HasImage(ctx(t), ref); !ok || err != nil {
				t.Fatalf("HasImage after build: %v %v", ok, err)
			}
			if got := inspectLabel(t, ref, "greeting"); got != "hi" {
				t.Errorf("build arg label = %q", got)
			}
			// The final stage fails: the error is the Engine's message.
			spec.Target = ""
			tar, _ = docker.TarFiles(map[string][]byte{"build/Dockerfile": []byte(dockerfile), "a.txt": []byte("a")}, nil)
			if err := remote.BuildImage(ctx(t), spec, tar); err == nil || !strings.Contains(err.Error(), "missing.txt") {
				t.Errorf("failing build: %v", err)
			}

			// Save to memory, delete, load back through Transfer.
			id, err := e.ImageID(ctx(t), ref)
			if err != nil || id == "" {
				t.Fatalf("ImageID: %q %v", id, err)
			}
			saved := saveAll(t, e, ref)
			if out, err := exec.Command("docker", "rmi", ref).CombinedOutput(); err != nil {
				t.Fatalf("docker rmi: %v %s", err, out)
			}
			if ok, _ := remote.HasImage(ctx(t), ref); ok {
				t.Fatal("HasImage after rmi")
			}
			if err := docker.Transfer(ctx(t), memImages{saved, id}, remote, ref); err != nil {
				t.Fatal(err)
			}
			if got, err := remote.ImageID(ctx(t), ref); got != id || err != nil {
				t.Fatalf("ImageID after Transfer: %q %v, want %s", got, err, id)
			}
			// Present with the same ID: nothing is saved.
			if err := docker.Transfer(ctx(t), failingImages{memImages{nil, id}}, remote, ref); err != nil {
				t.Errorf("Transfer of a present image: %v", err)
			}
			if err := remote.LoadImage(ctx(t), strings.NewReader("not a tar")); err == nil {
				t.Error("LoadImage of garbage: no error")
			}
			if ok, err := remote.HasImage(ctx(t), "luma-test-missing:none"); ok || err != nil {
				t.Errorf("HasImage of a missing image: %v %v", ok, err)
			}
		})
	}
}

func inspectLabel(t *testing.T, ref, key string) string {
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{index .Config.Labels \""+key+"\"}}", ref).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func saveAll(t *testing.T, e *docker.Engine, ref string) []byte {
	r, err := e.SaveImage(ctx(t), ref)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// memImages serves one saved image from memory.
type memImages struct {
	tar []byte
	id  string
}

func (m memImages) HasImage(context.Context, string) (bool, error)  { return true, nil }
func (m memImages) ImageID(context.Context, string) (string, error) { return m.id, nil }
func (m memImages) SaveImage(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(string(m.tar))), nil
}
func (m memImages) LoadImage(context.Context, io.Reader) error { return errors.New("read only") }
func (m memImages) LayerChains(context.Context) (map[string]bool, error) {
	return nil, errors.New("no layers")
}
func (m memImages) SaveImageFor(context.Context, string, map[string]bool) (*drivers.ImageTar, error) {
	return nil, errors.New("whole saves only")
}
func (m memImages) BuildImage(context.Context, drivers.BuildSpec, io.Reader) error {
	return errors.New("read only")
}
func (m memImages) PullImage(context.Context, string, *drivers.RegistryAuth) error {
	return errors.New("no registry")
}
func (m memImages) PushImage(context.Context, string, *drivers.RegistryAuth) error {
	return errors.New("no registry")
}
func (m memImages) CheckImage(context.Context, string, *drivers.RegistryAuth) error {
	return errors.New("no registry")
}

type failingImages struct{ memImages }

func (failingImages) SaveImage(context.Context, string) (io.ReadCloser, error) {
	return nil, errors.New("SaveImage must not be called")
}

func TestConnectErrors(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, err := docker.Connect(ctx(t), docker.Target{Server: docker.Localhost})
	if err == nil || !strings.HasPrefix(err.Error(), "localhost: ") || !strings.Contains(err.Error(), "dockerd running") {
		t.Errorf("local Engine missing: %v", err)
	}

	srv := testenv.SSHD(t)
	o := srv.Options()
	o.KnownHosts = t.TempDir() + "/known_hosts"
	_, err = docker.Connect(ctx(t), docker.Target{Server: "web1", SSH: o})
	if err == nil || !strings.HasPrefix(err.Error(), "web1: ") || !strings.Contains(err.Error(), "ssh-keyscan") {
		t.Errorf("unknown host: %v", err)
	}
	fmt.Fprint(io.Discard, err)
}
