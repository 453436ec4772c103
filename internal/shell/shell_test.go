package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

const (
	image  = "acme/web:r2"
	secret = "DATABASE_URL=postgres://u:hunter2@db/app"
)

// world is one server with web deployed green (two replicas) and its
// old blue set still running, so a wrong color would answer.
type world struct {
	cfg  *config.Config
	app  *config.App
	host *fake.Host
	out  bytes.Buffer
	err  bytes.Buffer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cfg, err := config.Parse("luma.yml", []byte(`name: acme
apps:
  web:
    image: acme/web:r2
    servers: ["web1", "web2"]
    replicas: 2
    volumes: ["uploads:/data"]
    environment:
      plain: ["MODE=prod"]
`))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{cfg: cfg, app: &cfg.Apps[0], host: fake.NewHost("web1")}
	h := w.host
	h.AddImage("acme/web:r1", image)
	ctx := context.Background()
	if err := h.EnsureNetwork(ctx, naming.Network("acme"), nil); err != nil {
		t.Fatal(err)
	}
	for color, ref := range map[string]string{naming.Blue: "acme/web:r1", naming.Green: image} {
		for _, name := range naming.AppContainers("acme", "web", color, 2) {
			spec := drivers.ContainerSpec{Name: name, Image: ref, Network: naming.Network("acme"),
				Labels: map[string]string{naming.LabelProject: "acme", naming.LabelApp: "web", naming.LabelColor: color}}
			if err := h.Create(ctx, spec); err != nil {
				t.Fatal(err)
			}
			if err := h.Start(ctx, name); err != nil {
				t.Fatal(err)
			}
			h.Behave(fake.Behavior{Match: name, Attached: say(name)})
		}
	}
	if err := h.Save(ctx, machine.Record{Project: "acme", App: "web", Server: "web1", State: machine.Idle, Active: naming.Green, FromColor: naming.Blue, ToColor: naming.Green}); err != nil {
		t.Fatal(err)
	}
	return w
}

// say is a command that prints where it runs and its arguments, and
// exits with the number its last argument is, if any.
func say(where string) fake.ProcessFunc {
	return func(_ context.Context, cmd, _ []string, s drivers.Stdio) int {
		fmt.Fprintf(s.Stdout, "%s: %s\n", where, strings.Join(cmd, " "))
		fmt.Fprintf(s.Stderr, "to stderr\n")
		code := 0
		fmt.Sscan(cmd[len(cmd)-1], &code)
		return code
	}
}

func (w *world) opts(cmd ...string) Options {
	return Options{
		Config: w.cfg, App: w.app, Server: "web1", Replica: 1, Cmd: cmd,
		Stdio:  drivers.Stdio{Stdout: &w.out, Stderr: &w.err},
		Engine: w.host, Store: w.host,
	}
}

func TestExecRunsInTheActiveColor(t *testing.T) {
	w := newWorld(t)
	code, err := Run(context.Background(), w.opts("rake", "db:version"))
	if err != nil || code != 0 || w.out.String() != "acme-web-green-1: rake db:version\n" || w.err.String() != "to stderr\n" {
		t.Fatalf("exec: exit %d, %v, stdout %q, stderr %q", code, err, w.out.String(), w.err.String())
	}
	w.out.Reset()
	o := w.opts("ls")
	o.Replica = 2
	if code, err := Run(context.Background(), o); err != nil || code != 0 || w.out.String() != "acme-web-green-2: ls\n" {
		t.Fatalf("exec --replica 2: exit %d, %v, stdout %q", code, err, w.out.String())
	}

	// After a deploy to blue, blue is where commands run.
	rec, _ := w.host.Load(context.Background(), "acme", "web")
	rec.Active = naming.Blue
	w.host.Save(context.Background(), rec)
	w.out.Reset()
	if _, err := Run(context.Background(), w.opts("ls")); err != nil || w.out.String() != "acme-web-blue-1: ls\n" {
		t.Fatalf("exec after the switch to blue: %v, stdout %q", err, w.out.String())
	}
}

func TestExecPassesTheExitCodeBack(t *testing.T) {
	w := newWorld(t)
	for _, want := range []int{0, 3, 127, 255} {
		code, err := Run(context.Background(), w.opts("exit", fmt.Sprint(want)))
		if err != nil || code != want {
			t.Errorf("exit %d: got %d, %v", want, code, err)
		}
	}
}

func TestExecPassesStdin(t *testing.T) {
	w := newWorld(t)
	// The first behaviour that matches wins: a host of its own.
	h := fake.NewHost("web1")
	h.AddImage(image)
	h.Save(context.Background(), machine.Record{Project: "acme", App: "web", Active: naming.Green})
	h.Create(context.Background(), drivers.ContainerSpec{Name: "acme-web-green-1", Image: image})
	h.Start(context.Background(), "acme-web-green-1")
	h.Behave(fake.Behavior{Match: "acme-web-green-1", Attached: func(_ context.Context, _, _ []string, s drivers.Stdio) int {
		if s.Stdin == nil {
			return 9
		}
		io.Copy(s.Stdout, s.Stdin)
		return 0
	}})
	o := w.opts("cat")
	o.Engine, o.Store = h, h
	o.Stdio.Stdin = strings.NewReader("hi\n")
	if code, err := Run(context.Background(), o); err != nil || code != 0 || w.out.String() != "hi\n" {
		t.Fatalf("exec -i cat: exit %d, %v, stdout %q", code, err, w.out.String())
	}
	o.Stdio.Stdin = nil
	if code, err := Run(context.Background(), o); err != nil || code != 9 {
		t.Fatalf("exec cat without -i: exit %d, %v; want the command to get no stdin (9)", code, err)
	}
}

func TestServerAndReplicaChecks(t *testing.T) {
	w := newWorld(t)
	if s, err := Server(w.app, ""); err != nil || s != "web1" {
		t.Errorf("default server = %q, %v; want the app's first, web1", s, err)
	}
	if s, err := Server(w.app, "web2"); err != nil || s != "web2" {
		t.Errorf("--server web2 = %q, %v", s, err)
	}
	var usage *UsageError
	if _, err := Server(w.app, "db1"); !errors.As(err, &usage) || !strings.Contains(err.Error(), "web1, web2") {
		t.Errorf("--server db1: %v, want a usage error listing web1, web2", err)
	}
	for _, n := range []int{0, 3, -1} {
		if err := Replica(w.app, n); !errors.As(err, &usage) || !strings.Contains(err.Error(), "1 to 2") {
			t.Errorf("--replica %d: %v, want a usage error naming 1 to 2", n, err)
		}
		o := w.opts("ls")
		o.Replica = n
		if _, err := Run(context.Background(), o); !errors.As(err, &usage) {
			t.Errorf("Run with replica %d: %v, want a usage error", n, err)
		}
	}
	if w.host.Calls("Attach") != 0 {
		t.Errorf("a refused exec ran a command")
	}
}

func TestExecNotDeployed(t *testing.T) {
	w := newWorld(t)
	w.host.Forget(context.Background(), "acme", "web")
	_, err := Run(context.Background(), w.opts("ls"))
	var nd *NotDeployedError
	if !errors.As(err, &nd) || err.Error() != "web is not deployed on web1: run `luma deploy web` first" {
		t.Fatalf("exec of an app never deployed: %v", err)
	}
	// A first deploy that never switched has no active color either.
	w.host.Save(context.Background(), machine.Record{Project: "acme", App: "web", State: machine.HealthChecking, ToColor: naming.Blue})
	if _, err := Run(context.Background(), w.opts("ls")); !errors.As(err, &nd) {
		t.Fatalf("exec during a first deploy: %v, want not deployed", err)
	}
	w.host.Inject(fake.Fault{Op: "Load", Err: errors.New("luma-proxy is not running")})
	if _, err := Run(context.Background(), w.opts("ls")); err == nil || errors.As(err, &nd) || !strings.Contains(err.Error(), "luma-proxy is not running") {
		t.Fatalf("exec with the proxy down: %v", err)
	}
}

func TestExecContainerNotRunning(t *testing.T) {
	w := newWorld(t)
	w.host.Crash("acme-web-green-1", 137)
	_, err := Run(context.Background(), w.opts("ls"))
	if err == nil || !strings.Contains(err.Error(), "acme-web-green-1 of web's active color (green) is not running (exited, exit code 137)") {
		t.Fatalf("exec in a crashed container: %v", err)
	}
	w.host.Remove(context.Background(), "acme-web-green-2")
	o := w.opts("ls")
	o.Replica = 2
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "acme-web-green-2 of web's active color (green) is missing") {
		t.Fatalf("exec in a missing container: %v", err)
	}
	if w.host.Calls("Attach") != 0 {
		t.Errorf("exec ran in a container that does not run")
	}
}

// oneOffs are the one-off containers left on h.
func oneOffs(h *fake.Host) []string {
	var out []string
	for _, c := range h.Containers() {
		if c.Labels[naming.LabelOneOff] != "" || strings.Contains(c.Name, "-run-") {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestOneOff(t *testing.T) {
	w := newWorld(t)
	green, _ := w.host.Inspect(context.Background(), "acme-web-green-1")
	var seen drivers.ContainerSpec
	var env []string
	w.host.Behave(fake.Behavior{Match: green.ImageID, Attached: func(_ context.Context, cmd, e []string, s drivers.Stdio) int {
		for _, c := range w.host.Containers() {
			if strings.HasPrefix(c.Name, "web-run-") {
				seen, _, _ = w.host.Spec(c.Name)
				if c.Labels[naming.LabelApp] != "" || c.Labels[naming.LabelOneOff] != "web" || c.Labels[naming.LabelProject] != "acme" {
					t.Errorf("one-off labels: %v", c.Labels)
				}
			}
		}
		env = e
		fmt.Fprintln(s.Stdout, "migrated")
		return 0
	}})
	o := w.opts("rake", "db:migrate")
	o.New, o.Replica = true, 0
	o.Env = []string{"MODE=prod", secret}
	code, err := Run(context.Background(), o)
	if err != nil || code != 0 || w.out.String() != "migrated\n" {
		t.Fatalf("one-off: exit %d, %v, stdout %q", code, err, w.out.String())
	}
	if !strings.HasPrefix(seen.Name, "web-run-") || seen.Image != green.ImageID || seen.Network != "acme-network" ||
		strings.Join(seen.Volumes, ",") != "acme-uploads:/data" || strings.Join(seen.Cmd, " ") != "rake db:migrate" {
		t.Errorf("one-off created as %+v; want from the active color's image %s with the app's config", seen, green.ImageID)
	}
	if strings.Join(env, ",") != "MODE=prod,"+secret {
		t.Errorf("one-off's environment = %q", env)
	}
	if left := oneOffs(w.host); len(left) != 0 {
		t.Errorf("one-offs left: %v", left)
	}
	// Deploys list app containers by project and app: a one-off is none.
	if got := len(w.host.Containers()); got != 4 {
		t.Errorf("%d containers after the one-off, want the 4 of the app", got)
	}
}

func TestOneOffIsRemovedWhateverHappens(t *testing.T) {
	cases := map[string]func(w *world, img string) (context.Context, int){
		"exit 3": func(w *world, img string) (context.Context, int) {
			w.host.Behave(fake.Behavior{Match: img, Attached: func(context.Context, []string, []string, drivers.Stdio) int { return 3 }})
			return context.Background(), 3
		},
		"crash at start": func(w *world, img string) (context.Context, int) {
			w.host.Behave(fake.Behavior{Match: img, CrashOnStart: "exited", ExitCode: 1})
			return context.Background(), 1
		},
		"start fails": func(w *world, img string) (context.Context, int) {
			w.host.Inject(fake.Fault{Op: "Start", Err: errors.New("no space left on device")})
			return context.Background(), -1
		},
		"Ctrl-C": func(w *world, img string) (context.Context, int) {
			ctx, cancel := context.WithCancel(context.Background())
			w.host.Behave(fake.Behavior{Match: img, Attached: func(ctx context.Context, _, _ []string, _ drivers.Stdio) int {
				cancel()
				<-ctx.Done() // stopped
				return 143
			}})
			return ctx, -1
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			green, _ := w.host.Inspect(context.Background(), "acme-web-green-1")
			ctx, want := setup(w, green.ImageID)
			o := w.opts("rake", "db:migrate")
			o.New = true
			o.Env = []string{secret}
			code, err := Run(ctx, o)
			if code != want {
				t.Errorf("exit %d (%v), want %d", code, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows a secret: %v", err)
			}
			if name == "Ctrl-C" && !errors.Is(err, context.Canceled) {
				t.Errorf("Ctrl-C: %v, want context.Canceled", err)
			}
			if left := oneOffs(w.host); len(left) != 0 {
				t.Errorf("one-offs left: %v", left)
			}
		})
	}
}

func TestOneOffNeedsARunningRelease(t *testing.T) {
	w := newWorld(t)
	w.host.Crash("acme-web-green-1", 1)
	green2, _ := w.host.Inspect(context.Background(), "acme-web-green-2")
	w.host.Behave(fake.Behavior{Match: green2.ImageID, Attached: say("one-off")})
	o := w.opts("ls")
	o.New = true
	if code, err := Run(context.Background(), o); err != nil || code != 0 || !strings.HasPrefix(w.out.String(), "one-off: ls") {
		t.Fatalf("one-off with replica 1 down: exit %d, %v, %q; want it from replica 2's image", code, err, w.out.String())
	}
	w.host.Crash("acme-web-green-2", 1)
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("one-off with no replica running: %v", err)
	}
	if w.host.Calls("RunOnce") != 1 {
		t.Errorf("RunOnce calls = %d, want 1", w.host.Calls("RunOnce"))
	}
}
