package logs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/logs"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

const image = "blog:r1"

// host is a fake server with the app's image.
func host(t *testing.T, name string) *fake.Host {
	h := fake.NewHost(name)
	h.AddImage(image)
	return h
}

// run creates and starts a container of the blog app of color on h.
func run(t *testing.T, h *fake.Host, name, color string) {
	t.Helper()
	ctx := context.Background()
	spec := drivers.ContainerSpec{Name: name, Image: image, Labels: map[string]string{
		naming.LabelProject: "acme", naming.LabelApp: "blog", naming.LabelColor: color,
	}}
	if err := h.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
}

func active(t *testing.T, h *fake.Host, color string) {
	t.Helper()
	if err := h.Save(context.Background(), machine.Record{Project: "acme", App: "blog", State: machine.Idle, Active: color}); err != nil {
		t.Fatal(err)
	}
}

// say logs text in container at the host's clock, then moves it on by d.
func say(h *fake.Host, container, stream, text string, d time.Duration) {
	h.Log(container, stream, text)
	h.Clock().Advance(d)
}

func servers(hosts ...*fake.Host) []logs.Server {
	var out []logs.Server
	for _, h := range hosts {
		out = append(out, logs.Server{Name: h.Name(), Engine: h, Proxy: h})
	}
	return out
}

// printed collects what Run prints as "[server container] stream text".
type printed struct {
	mu    sync.Mutex
	lines []string
}

func (p *printed) print(l logs.Line) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, fmt.Sprintf("[%s %s] %s %s", l.Server, l.Container, l.Stream, l.Text))
	return nil
}

func (p *printed) get() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

func read(t *testing.T, o logs.Options) []string {
	t.Helper()
	p := &printed{}
	o.Project, o.Print = "acme", p.print
	if o.App == "" && !o.Proxy {
		o.App = "blog"
	}
	if err := logs.Run(context.Background(), o); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return p.get()
}

func check(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// twoServers: blog-blue active on web1 and web2, a stopped blog-green of
// the color before on web1. The clocks interleave web1's and web2's lines.
func twoServers(t *testing.T) (*fake.Host, *fake.Host) {
	web1, web2 := host(t, "web1"), host(t, "web2")
	web2.Clock().Advance(500 * time.Millisecond)
	run(t, web1, "blog-green", naming.Green)
	say(web1, "blog-green", drivers.Stdout, "old", 100*time.Millisecond)
	if err := web1.Stop(context.Background(), "blog-green", 0); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*fake.Host{web1, web2} {
		run(t, h, "blog-blue", naming.Blue)
		active(t, h, naming.Blue)
	}
	say(web1, "blog-blue", drivers.Stdout, "1", time.Second)
	say(web1, "blog-blue", drivers.Stderr, "3", time.Second)
	say(web1, "blog-blue", drivers.Stdout, "5", time.Second)
	say(web2, "blog-blue", drivers.Stderr, "2", time.Second)
	say(web2, "blog-blue", drivers.Stdout, "4\n6", time.Second)
	return web1, web2
}

func TestMergeByTimeAcrossServers(t *testing.T) {
	web1, web2 := twoServers(t)
	got := read(t, logs.Options{Servers: servers(web1, web2), Tail: drivers.AllLines})
	check(t, "merged", got, []string{
		"[web1 blog-blue] stdout 1",
		"[web2 blog-blue] stderr 2",
		"[web1 blog-blue] stderr 3",
		"[web2 blog-blue] stdout 4",
		"[web2 blog-blue] stdout 6", // logged at the same time as 4
		"[web1 blog-blue] stdout 5",
	})
}

func TestAllTailSinceAndServer(t *testing.T) {
	web1, web2 := twoServers(t)
	got := read(t, logs.Options{Servers: servers(web1), Tail: drivers.AllLines, All: true})
	check(t, "--all", got, []string{"[web1 blog-green] stdout old", "[web1 blog-blue] stdout 1", "[web1 blog-blue] stderr 3", "[web1 blog-blue] stdout 5"})

	got = read(t, logs.Options{Servers: servers(web1, web2), Tail: 1})
	check(t, "--tail 1", got, []string{"[web2 blog-blue] stdout 6", "[web1 blog-blue] stdout 5"})

	since := web1.Clock().Now().Add(-2 * time.Second) // web1's 3 and 5, web2's 4 and 6
	got = read(t, logs.Options{Servers: servers(web1, web2), Tail: drivers.AllLines, Since: since})
	check(t, "--since", got, []string{"[web1 blog-blue] stderr 3", "[web2 blog-blue] stdout 4", "[web2 blog-blue] stdout 6", "[web1 blog-blue] stdout 5"})

	names, err := logs.SelectServers(`app "blog"`, []string{"web1", "web2"}, "web2")
	if err != nil || !slices.Equal(names, []string{"web2"}) {
		t.Fatalf("SelectServers web2 = %v, %v", names, err)
	}
	_, err = logs.SelectServers(`app "blog"`, []string{"web1", "web2"}, "db1")
	if err == nil || err.Error() != `server "db1" is not one of app "blog"'s servers (servers: web1, web2)` {
		t.Errorf("SelectServers db1: %v", err)
	}
	if names, _ := logs.SelectServers("x", []string{"web1", "web2"}, ""); !slices.Equal(names, []string{"web1", "web2"}) {
		t.Errorf("SelectServers without --server = %v", names)
	}
}

func TestWithoutRecordRunningContainers(t *testing.T) {
	web1 := host(t, "web1")
	run(t, web1, "blog-blue", naming.Blue)
	run(t, web1, "blog-green", naming.Green)
	say(web1, "blog-blue", drivers.Stdout, "blue", time.Second)
	say(web1, "blog-green", drivers.Stdout, "green", time.Second)
	web1.Stop(context.Background(), "blog-green", 0)
	// Another app's and another project's containers are never read.
	web1.AddImage("other")
	web1.Create(context.Background(), drivers.ContainerSpec{Name: "other", Image: "other", Labels: map[string]string{naming.LabelProject: "acme", naming.LabelApp: "shop"}})
	web1.Start(context.Background(), "other")
	say(web1, "other", drivers.Stdout, "shop", 0)
	got := read(t, logs.Options{Servers: servers(web1), Tail: drivers.AllLines})
	check(t, "no record", got, []string{"[web1 blog-blue] stdout blue"})

	// The active color's containers are read even once crashed.
	active(t, web1, naming.Green)
	got = read(t, logs.Options{Servers: servers(web1), Tail: drivers.AllLines})
	check(t, "active green, exited", got, []string{"[web1 blog-green] stdout green"})
}

func TestProxyLog(t *testing.T) {
	web1, web2 := host(t, "web1"), host(t, "web2")
	web1.AddImage("luma-proxy:1")
	ctx := context.Background()
	web1.Create(ctx, drivers.ContainerSpec{Name: naming.ProxyContainer, Image: "luma-proxy:1", Labels: map[string]string{naming.LabelRole: naming.RoleProxy}})
	web1.Start(ctx, naming.ProxyContainer)
	say(web1, naming.ProxyContainer, drivers.Stderr, "luma-proxy listening", 0)
	got := read(t, logs.Options{Proxy: true, Servers: servers(web1), Tail: drivers.AllLines})
	check(t, "--proxy", got, []string{"[web1 luma-proxy] stderr luma-proxy listening"})

	err := logs.Run(ctx, logs.Options{Proxy: true, Servers: servers(web1, web2), Tail: drivers.AllLines, Print: (&printed{}).print})
	if err == nil || !strings.Contains(err.Error(), "[web2] no luma-proxy container: run `luma setup`") || strings.Contains(err.Error(), "web1") {
		t.Errorf("--proxy where none runs: %v", err)
	}
}

func TestErrors(t *testing.T) {
	web1, web2 := twoServers(t)
	web2.Inject(fake.Fault{Op: "List", Err: errors.New("connection lost")})
	err := logs.Run(context.Background(), logs.Options{Project: "acme", App: "blog", Servers: servers(web1, web2), Tail: drivers.AllLines, Print: (&printed{}).print})
	if err == nil || err.Error() != "[web2] connection lost" {
		t.Errorf("Run with web2 failing: %v", err)
	}

	stop := errors.New("stdout closed")
	calls := 0
	err = logs.Run(context.Background(), logs.Options{Project: "acme", App: "blog", Servers: servers(web1), Tail: drivers.AllLines,
		Print: func(logs.Line) error { calls++; return stop }})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Run whose Print fails: %v after %d lines, want the error after 1", err, calls)
	}
}
