package docker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// frame is one frame of the Engine's multiplexed stream: 1 stdout, 2 stderr.
func frame(stream byte, payload string) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(payload)))
	return append(h, payload...)
}

func readAll(t *testing.T, s *logStream) []drivers.LogLine {
	t.Helper()
	var out []drivers.LogLine
	for {
		l, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, l)
	}
}

func TestReadLogDemultiplexes(t *testing.T) {
	var b bytes.Buffer
	b.Write(frame(1, "2025-01-01T12:00:00.000000001Z one\n"))
	b.Write(frame(2, "2025-01-01T12:00:00.5Z two "))
	b.Write(frame(2, "halves\n2025-01-01T12:00:01Z \n"))
	b.Write(frame(1, "2025-01-01T12:00:02Z no newline"))
	got := readAll(t, readLog(context.Background(), io.NopCloser(&b), false))
	at := func(sec, nsec int) time.Time { return time.Date(2025, 1, 1, 12, 0, sec, nsec, time.UTC) }
	want := []drivers.LogLine{
		{Time: at(0, 1), Stream: drivers.Stdout, Text: "one"},
		{Time: at(0, 5e8), Stream: drivers.Stderr, Text: "two halves"},
		{Time: at(1, 0), Stream: drivers.Stderr, Text: ""},
		{Time: at(2, 0), Stream: drivers.Stdout, Text: "no newline"},
	}
	if len(got) != len(want) {
		t.Fatalf("lines = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || got[i].Stream != want[i].Stream || got[i].Text != want[i].Text {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadLogTTY(t *testing.T) {
	body := "2025-01-01T12:00:00Z raw\r\n2025-01-01T12:00:01Z \x01\x00 not a frame\r\n"
	got := readAll(t, readLog(context.Background(), io.NopCloser(strings.NewReader(body)), true))
	if len(got) != 2 || got[0].Text != "raw" || got[1].Text != "\x01\x00 not a frame" || got[1].Stream != drivers.Stdout || got[1].Time.Second() != 1 {
		t.Fatalf("TTY lines = %+v", got)
	}
}

func TestReadLogCloseAndCancel(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	s := readLog(context.Background(), pr, false)
	go pw.Write(frame(1, "2025-01-01T12:00:00Z first\n"))
	if l, err := s.Next(); err != nil || l.Text != "first" {
		t.Fatalf("Next = %+v, %v", l, err)
	}
	s.Close() // the pipe's reader: the goroutine's read fails
	if _, err := s.Next(); !errors.Is(err, errLogClosed) {
		t.Fatalf("Next after Close = %v, want errLogClosed", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr2, pw2 := io.Pipe()
	s = readLog(ctx, pr2, false)
	cancel()
	pw2.CloseWithError(errors.New("cut")) // as the client's body does on cancel
	if _, err := s.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel = %v, want context.Canceled", err)
	}
}
