package enginetest

import (
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// testLogs: a container's lines come back in order with their stream and
// time; Tail and Since choose among them as the Engine does; Follow ends
// when the container stops, and Close ends a stream waiting for a line.
func testLogs(t *testing.T, v *env) {
	lg, ok := v.e.(drivers.Logs)
	if !ok {
		t.Fatal("the engine does not implement drivers.Logs")
	}
	all := drivers.LogOptions{Tail: drivers.AllLines}
	if _, err := lg.Logs(ctx(t), v.name("missing"), all); !errors.Is(err, drivers.ErrNotFound) {
		t.Errorf("Logs of a missing container: %v, want ErrNotFound", err)
	}

	spec := v.spec("logs")
	spec.Cmd = []string{"/hello", "exit", "0", "one\ntwo\nthree"} // three lines on stderr
	v.create(t, spec)
	v.start(t, spec.Name)
	v.waitExited(t, spec.Name)

	lines := v.logs(t, lg, spec.Name, all)
	if got := texts(lines); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Fatalf("Logs = %q, want one, two, three", got)
	}
	for i, l := range lines {
		if l.Stream != drivers.Stderr || l.Time.IsZero() || (i > 0 && l.Time.Before(lines[i-1].Time)) {
			t.Errorf("line %d = %+v: want stderr, a time, in order", i, l)
		}
	}
	// Following a stopped container gives its log and ends.
	if got := texts(v.logs(t, lg, spec.Name, drivers.LogOptions{Tail: drivers.AllLines, Follow: true})); len(got) != 3 {
		t.Errorf("Logs with Follow of a stopped container = %q, want its 3 lines", got)
	}
	if got := texts(v.logs(t, lg, spec.Name, drivers.LogOptions{Tail: 2})); !slices.Equal(got, []string{"two", "three"}) {
		t.Errorf("Logs with Tail 2 = %q, want two, three", got)
	}
	if got := v.logs(t, lg, spec.Name, drivers.LogOptions{Tail: 0}); len(got) != 0 {
		t.Errorf("Logs with Tail 0 = %+v, want none", got)
	}
	last := lines[2].Time
	since := v.logs(t, lg, spec.Name, drivers.LogOptions{Tail: drivers.AllLines, Since: last})
	if len(since) == 0 || since[len(since)-1].Text != "three" {
		t.Errorf("Logs since the last line's time = %q, want up to three", texts(since))
	}
	for _, l := range since {
		if l.Time.Before(last) {
			t.Errorf("Logs since %v gave a line of %v", last, l.Time)
		}
	}
	if got := v.logs(t, lg, spec.Name, drivers.LogOptions{Tail: drivers.AllLines, Since: last.Add(time.Nanosecond)}); len(got) != 0 {
		t.Errorf("Logs since after the last line = %q, want none", texts(got))
	}

	// Following a running container ends once it stops.
	run := v.spec("logs-follow")
	v.create(t, run)
	v.start(t, run.Name)
	s, err := lg.Logs(ctx(t), run.Name, drivers.LogOptions{Tail: drivers.AllLines, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ended := drain(s)
	select {
	case err := <-ended:
		t.Fatalf("a followed log of a running container ended: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := v.e.Stop(ctx(t), run.Name, run.StopTimeout); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		if err != io.EOF {
			t.Errorf("followed log of a stopped container ended with %v, want io.EOF", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a followed log did not end when its container stopped")
	}

	// Close ends a stream that waits for a line.
	v.start(t, run.Name)
	s, err = lg.Logs(ctx(t), run.Name, drivers.LogOptions{Tail: 0, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	ended = drain(s)
	s.Close()
	select {
	case err := <-ended:
		if err == nil || err == io.EOF {
			t.Errorf("a closed stream ended with %v, want an error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a followed log")
	}
}

// logs reads a whole log.
func (v *env) logs(t *testing.T, lg drivers.Logs, name string, opts drivers.LogOptions) []drivers.LogLine {
	t.Helper()
	s, err := lg.Logs(ctx(t), name, opts)
	if err != nil {
		t.Fatalf("Logs %s: %v", name, err)
	}
	defer s.Close()
	var out []drivers.LogLine
	for {
		l, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Logs %s: Next: %v", name, err)
		}
		out = append(out, l)
	}
}

// drain reads s to its end on a goroutine and sends how it ended.
func drain(s drivers.LogStream) <-chan error {
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := s.Next(); err != nil {
				ended <- err
				return
			}
		}
	}()
	return ended
}

// waitExited waits for a container whose command ends to have exited.
func (v *env) waitExited(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for v.inspect(t, name).State != "exited" {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not exit", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func texts(lines []drivers.LogLine) []string {
	out := []string{}
	for _, l := range lines {
		out = append(out, l.Text)
	}
	return out
}
