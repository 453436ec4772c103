package proxy

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// A retry gets the body from its first byte, however much the transport
// had read before it gave up on a connection, while that fits the kept
// prefix; past it, GetBody refuses instead of sending a body cut short.
func TestReplayBody(t *testing.T) {
	src := randomBytes(replayPrefix + 4096)
	t.Run("replay after a partial read", func(t *testing.T) {
		b := newReplayBody(bytes.NewReader(src), 0)
		defer b.release()
		first := make([]byte, 5000)
		if _, err := io.ReadFull(b, first); err != nil {
			t.Fatal(err)
		}
		for range 2 { // a second retry starts from the beginning too
			r, err := b.GetBody()
			if err != nil {
				t.Fatal(err)
			}
			part := make([]byte, 20000)
			if _, err := io.ReadFull(r, part); err != nil || !bytes.Equal(part, src[:20000]) {
				t.Fatalf("replayed prefix differs (%v)", err)
			}
		}
		r, _ := b.GetBody()
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("replay: %d of %d bytes, equal %v, %v", len(got), len(src), bytes.Equal(got, src), err)
		}
	})
	t.Run("no replay past the prefix", func(t *testing.T) {
		b := newReplayBody(bytes.NewReader(src), 0)
		defer b.release()
		if _, err := io.ReadFull(b, make([]byte, replayPrefix+1)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.GetBody(); !errors.Is(err, errNoReplay) {
			t.Fatalf("GetBody after %d bytes: %v, want errNoReplay", replayPrefix+1, err)
		}
	})
	t.Run("limit", func(t *testing.T) {
		b := newReplayBody(bytes.NewReader(src[:1000]), 999)
		defer b.release()
		got, err := io.ReadAll(b)
		if !errors.Is(err, errBodyTooLarge) || len(got) != 999 {
			t.Fatalf("read %d bytes, %v; want 999 and errBodyTooLarge", len(got), err)
		}
		exact := newReplayBody(bytes.NewReader(src[:1000]), 1000)
		defer exact.release()
		if got, err := io.ReadAll(exact); err != nil || len(got) != 1000 {
			t.Fatalf("body of exactly the limit: %d bytes, %v", len(got), err)
		}
	})
	t.Run("released", func(t *testing.T) {
		b := newReplayBody(bytes.NewReader(src), 0)
		b.release()
		if _, err := b.Read(make([]byte, 10)); !errors.Is(err, errRequestOver) {
			t.Fatalf("read after release: %v", err)
		}
		if _, err := b.GetBody(); !errors.Is(err, errNoReplay) {
			t.Fatalf("GetBody after release: %v", err)
		}
	})
}
