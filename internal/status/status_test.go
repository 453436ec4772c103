package status

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func running(color string, n int) []drivers.Container {
	var out []drivers.Container
	for i := 0; i < n; i++ {
		out = append(out, drivers.Container{State: "running", Labels: map[string]string{"luma.color": color}})
	}
	return out
}

// named names containers as luma does, {app}-{color}-{n}, with the release.
func named(app string, cs []drivers.Container) []drivers.Container {
	n := map[string]int{}
	for i := range cs {
		color := cs[i].Labels["luma.color"]
		n[color]++
		cs[i].Name = fmt.Sprintf("%s-%s-%d", app, color, n[color])
		cs[i].Labels["luma.release"] = map[string]string{"blue": "r1", "green": "r2"}[color]
	}
	return cs
}

func idle(active, rel string) *machine.Record {
	return &machine.Record{App: "blog", State: machine.Idle, Active: active, Release: rel}
}

func TestVerdicts(t *testing.T) {
	cases := []struct {
		name   string
		in     []ServerInput
		want   string
		active string
		advice string
	}{
		{"all green", []ServerInput{
			{Name: "s1", Containers: running("green", 2), Record: idle("green", "r2")},
			{Name: "s2", Containers: running("green", 2), Record: idle("green", "r2")},
		}, Running, "green", ""},
		{"nothing runs", []ServerInput{{Name: "s1"}}, Stopped, "", "luma deploy blog"},
		{"one replica down", []ServerInput{
			{Name: "s1", Containers: running("blue", 1), Record: idle("blue", "r1")},
		}, Mixed, "blue", "1/2 replicas running"},
		{"colors differ across servers", []ServerInput{
			{Name: "s1", Containers: running("blue", 2), Record: idle("blue", "r1")},
			{Name: "s2", Containers: running("green", 2), Record: idle("green", "r2")},
		}, Mixed, "", "different colors or releases"},
		{"one release in two colors", []ServerInput{
			{Name: "s1", Containers: running("blue", 2), Record: idle("blue", "r3")},
			{Name: "s2", Containers: running("green", 2), Record: idle("green", "r3")},
		}, Running, "", ""},
		{"interrupted after switch", []ServerInput{
			{Name: "s1", Containers: append(running("blue", 2), running("green", 2)...),
				Record: &machine.Record{App: "blog", State: machine.Draining, FromColor: "blue", ToColor: "green", Active: "green", Release: "r2", Previous: "r1"}},
		}, Mixed, "green", "finishes it"},
		{"killed mid-switch after the route moved", []ServerInput{
			{Name: "s1", Containers: named("blog", append(running("blue", 2), running("green", 2)...)),
				Record: &machine.Record{App: "blog", State: machine.Switching, FromColor: "blue", ToColor: "green", Active: "blue", Release: "r2", Previous: "r1"},
				Route:  &drivers.Route{Targets: []string{"blog-green-1:3000", "blog-green-2:3000"}}},
		}, Mixed, "green", "traffic on green: the next `luma deploy blog` puts it back on blue and rolls back"},
		{"deploy in progress holds a live lock", []ServerInput{
			{Name: "s1", Containers: append(running("blue", 2), running("green", 1)...),
				Record: &machine.Record{App: "blog", State: machine.HealthChecking, FromColor: "blue", ToColor: "green", Active: "blue", Release: "r2", Previous: "r1"},
				Lock:   &drivers.Lock{Holder: "me", Expires: now.Add(time.Minute)}},
		}, Running, "blue", ""},
		{"unreachable server", []ServerInput{
			{Name: "s1", Containers: running("blue", 2), Record: idle("blue", "r1")},
			{Name: "s2", Err: errors.New("dial tcp: refused")},
		}, Mixed, "blue", "[s2] unreachable"},
		{"legacy containers only", []ServerInput{
			{Name: "s1", Containers: []drivers.Container{{State: "running", Labels: map[string]string{}}, {State: "running"}}},
		}, Running, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Of("blog", 2, c.in, now)
			if a.Status != c.want || a.Active != c.active {
				t.Fatalf("status = %s active %q, want %s active %q (%+v)", a.Status, a.Active, c.want, c.active, a)
			}
			joined := strings.Join(a.Advice, "\n")
			if c.advice == "" && joined != "" || !strings.Contains(joined, c.advice) {
				t.Fatalf("advice = %q, want %q", joined, c.advice)
			}
		})
	}
}

func TestTextMatchesSpec(t *testing.T) {
	a := Of("blog", 2, []ServerInput{
		{Name: "server1", Containers: running("green", 2), Record: idle("green", "abc123")},
		{Name: "server2", Containers: append(running("green", 2), drivers.Container{State: "exited", Labels: map[string]string{"luma.color": "blue"}}), Record: idle("green", "abc123")},
	}, now)
	var b bytes.Buffer
	Text(&b, a, time.Now())
	want := `📱 App: blog
   Status: ✅ RUNNING (active: green)
   Replicas: 4/4 running
   Colors: 0 blue, 4 green
   Servers: server1, server2
   Release: abc123
   [server1] idle, active green, release abc123, 2/2 running
   [server2] idle, active green, release abc123, 2/2 running
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

// A run that died mid-switch swapped some servers' routes without saving
// the switch: the route tells what serves, and the app is MIXED.
func TestRouteOutranksRecord(t *testing.T) {
	named := func(color, rel string) []drivers.Container {
		var out []drivers.Container
		for i := 1; i <= 2; i++ {
			out = append(out, drivers.Container{Name: "blog-" + color + "-" + string(rune('0'+i)), State: "running",
				Labels: map[string]string{"luma.color": color, "luma.release": rel}})
		}
		return out
	}
	rec := func() *machine.Record {
		return &machine.Record{App: "blog", State: machine.Switching, FromColor: "blue", ToColor: "green", Active: "blue", Release: "r2", Previous: "r1"}
	}
	route := func(color string) *drivers.Route {
		return &drivers.Route{App: "p/blog", Targets: []string{"blog-" + color + "-1:3000", "blog-" + color + "-2:3000"}}
	}
	cs := append(named("blue", "r1"), named("green", "r2")...)
	a := Of("blog", 2, []ServerInput{
		{Name: "s1", Containers: cs, Record: rec(), Route: route("green")},
		{Name: "s2", Containers: cs, Record: rec(), Route: route("blue")},
	}, now)
	if a.Status != Mixed || a.Active != "" {
		t.Fatalf("status = %s active %q, want MIXED with no single active color", a.Status, a.Active)
	}
	if s := a.Servers[0]; s.Active != "green" || s.Release != "r2" {
		t.Errorf("s1 = %s %s, want green r2 (its route)", s.Active, s.Release)
	}
	if s := a.Servers[1]; s.Active != "blue" || s.Release != "r1" {
		t.Errorf("s2 = %s %s, want blue r1", s.Active, s.Release)
	}
	if !strings.Contains(strings.Join(a.Advice, "\n"), "luma deploy blog") {
		t.Errorf("advice %v does not say what to do", a.Advice)
	}
}
