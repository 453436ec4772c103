package proxy

import (
	"io"
	"sync"
)

// goingAway is a WebSocket close frame, server to client, with status
// 1001 ("going away"): what a client should see when the container
// serving its connection stops.
var goingAway = []byte{0x88, 0x02, 0x03, 0xE9}

// wsUpstream is the app's side of a proxied WebSocket. It watches the
// frames the app sends; when the app's connection ends without a close
// frame (the container was stopped or killed) at a frame boundary, the
// client gets a 1001 close frame before the end, instead of a connection
// that just drops (1006), so it reconnects at once, to the new color.
type wsUpstream struct {
	io.ReadWriteCloser

	mu      sync.Mutex
	frames  wsFrames
	pending []byte // the close frame still to be read
	ended   error
}

func newWSUpstream(rwc io.ReadWriteCloser) *wsUpstream {
	return &wsUpstream{ReadWriteCloser: rwc}
}

func (u *wsUpstream) Read(p []byte) (int, error) {
	u.mu.Lock()
	if u.ended != nil {
		defer u.mu.Unlock()
		if len(u.pending) > 0 {
			n := copy(p, u.pending)
			u.pending = u.pending[n:]
			return n, nil
		}
		return 0, u.ended
	}
	u.mu.Unlock()

	n, err := u.ReadWriteCloser.Read(p)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.frames.feed(p[:n])
	if err != nil {
		u.ended = err
		if u.frames.boundary() && !u.frames.closed {
			u.pending = append([]byte(nil), goingAway...)
			return n, nil // the close frame comes with the next Read
		}
	}
	return n, err
}

// wsFrames follows the framing of one direction of a WebSocket (RFC 6455
// section 5.2) without keeping payloads: where a frame ends, and whether a
// close frame passed.
type wsFrames struct {
	header []byte // the current frame's header bytes so far
	left   uint64 // payload bytes of the current frame still to come
	closed bool
}

func (f *wsFrames) feed(p []byte) {
	for len(p) > 0 {
		if f.left > 0 {
			n := min(uint64(len(p)), f.left)
			f.left -= n
			p = p[n:]
			continue
		}
		f.header = append(f.header, p[0])
		p = p[1:]
		if size := headerSize(f.header); size > 0 && len(f.header) == size {
			f.startFrame()
		}
	}
}

// boundary tells whether the bytes seen so far end with a whole frame.
func (f *wsFrames) boundary() bool { return len(f.header) == 0 && f.left == 0 }

func (f *wsFrames) startFrame() {
	h := f.header
	if h[0]&0x0f == 0x8 {
		f.closed = true
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		n = uint64(h[2])<<8 | uint64(h[3])
	case 127:
		n = 0
		for _, b := range h[2:10] {
			n = n<<8 | uint64(b)
		}
	}
	f.left = n
	f.header = f.header[:0]
}

// headerSize is the length of the frame header that starts with h, or 0
// while its first two bytes are not known.
func headerSize(h []byte) int {
	if len(h) < 2 {
		return 0
	}
	size := 2
	switch h[1] & 0x7f {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if h[1]&0x80 != 0 {
		size += 4 // masking key
	}
	return size
}
