package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luma-deploy/luma/proxy/protocol"
)

// session runs Session against p's socket over pipes; send writes one
// line, next reads one answer, and end closes stdin and returns Session's
// error.
type session struct {
	in    *io.PipeWriter
	out   *bufio.Scanner
	done  chan error
	atEOF chan struct{} // closed once Session read the end of stdin
}

// eofReader closes atEOF when its reader returns io.EOF.
type eofReader struct {
	io.Reader
	atEOF chan struct{}
	once  sync.Once
}

func (r *eofReader) Read(p []byte) (int, error) {
	n, err := r.Reader.Read(p)
	if err == io.EOF {
		r.once.Do(func() { close(r.atEOF) })
	}
	return n, err
}

func startSession(t *testing.T, socket string) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{in: inW, out: bufio.NewScanner(outR), done: make(chan error, 1), atEOF: make(chan struct{})}
	stdin := &eofReader{Reader: inR, atEOF: s.atEOF}
	go func() {
		err := Session(context.Background(), socket, stdin, outW)
		inR.Close()
		outW.CloseWithError(io.EOF)
		s.done <- err
	}()
	t.Cleanup(func() { inW.Close(); outR.Close() })
	return s
}

func (s *session) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		t.Fatalf("send %s: %v", line, err)
	}
}

func (s *session) next(t *testing.T) protocol.Response {
	t.Helper()
	if !s.out.Scan() {
		t.Fatalf("session ended: %v", s.out.Err())
	}
	var resp protocol.Response
	if err := json.Unmarshal(s.out.Bytes(), &resp); err != nil {
		t.Fatalf("session wrote %q: %v", s.out.Text(), err)
	}
	return resp
}

func (s *session) end(t *testing.T) error {
	t.Helper()
	s.in.Close()
	for s.out.Scan() {
		t.Errorf("unexpected answer after EOF: %s", s.out.Text())
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end at EOF")
		return nil
	}
}

func TestSessionAnswersConcurrentlyWithIDs(t *testing.T) {
	p := startProxy(t, testOptions(t))
	blue, arrived, release := slowBackend(t, "blue")
	green := addr(backend(t, "green"))
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	slow := p.getAsync("http://web.test/slow")
	<-arrived
	p.setRoute(t, "demo/web", []string{"web.test"}, green)

	s := startSession(t, p.socket)
	// The drain blocks on the slow request; everything after it is answered
	// meanwhile, each with its own ID.
	s.send(t, fmt.Sprintf(`{"id":1,"op":"drain","app":"demo/web","targets":[%q],"timeout":10000000000}`, blue))
	s.send(t, `{"id":2,"op":"ping"}`)
	s.send(t, `{"id":3,"op":"load","project":"demo","app":"none"}`)
	s.send(t, fmt.Sprintf(`{"id":4,"op":"probe","target":%q,"path":"/up","timeout":1000000000}`, green))
	s.send(t, `{"id":5,"op":"frobnicate"}`)
	s.send(t, `{"id":6,"op":"lock","key":"demo/web","holder":"alice","lease":"soon"}`) // a type error keeps its ID
	got := map[uint64]protocol.Response{}
	for range 5 {
		r := s.next(t)
		if _, dup := got[r.ID]; dup {
			t.Fatalf("ID %d answered twice", r.ID)
		}
		got[r.ID] = r
	}
	if _, ok := got[1]; ok {
		t.Fatal("drain answered while a request was in flight")
	}
	if got[2].Version != Version || got[3].Kind != protocol.KindNotFound || got[4].Probe == nil || got[4].Probe.Status != 200 ||
		!strings.Contains(got[5].Error, "unknown admin op") || !strings.Contains(got[6].Error, "bad admin request") {
		t.Fatalf("answers: %+v", got)
	}

	close(release)
	if r := s.next(t); r.ID != 1 || r.Remaining != 0 || r.Error != "" {
		t.Fatalf("drain: %+v", r)
	}
	if out := <-slow; out != "200 blue" {
		t.Fatalf("slow request: %s", out)
	}
	if err := s.end(t); err != nil {
		t.Fatalf("session at EOF: %v", err)
	}
}

func TestSessionWaitsForAnswersAtEOF(t *testing.T) {
	p := startProxy(t, testOptions(t))
	blue, arrived, release := slowBackend(t, "blue")
	p.setRoute(t, "demo/web", []string{"web.test"}, blue)
	slow := p.getAsync("http://web.test/slow")
	<-arrived
	p.setRoute(t, "demo/web", []string{"web.test"}, addr(backend(t, "green")))

	s := startSession(t, p.socket)
	s.send(t, fmt.Sprintf(`{"id":7,"op":"drain","app":"demo/web","targets":[%q],"timeout":10000000000}`, blue))
	s.in.Close()
	select { // the session saw the end of stdin with the drain in flight
	case <-s.atEOF:
	case <-time.After(5 * time.Second):
		t.Fatal("the session did not read the end of stdin")
	}
	close(release)
	if r := s.next(t); r.ID != 7 || r.Error != "" {
		t.Fatalf("drain after EOF: %+v", r)
	}
	<-slow
	if err := s.end(t); err != nil {
		t.Fatal(err)
	}
}

func TestSessionEndsWhenProxyIsGone(t *testing.T) {
	s := startSession(t, filepath.Join(t.TempDir(), "gone.sock"))
	s.send(t, `{"id":1,"op":"ping"}`)
	select {
	case err := <-s.done:
		if err == nil || !strings.Contains(err.Error(), "not answering") {
			t.Fatalf("session error: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session outlived an unreachable proxy")
	}
	if s.out.Scan() {
		t.Fatalf("answer from an unreachable proxy: %s", s.out.Text())
	}
}
