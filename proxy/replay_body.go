package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// replayPrefix is how much of a request body is kept so the request can be
// sent again. The transport retries only requests of which nothing reached
// the app (see errStaleConn); by then it has read at most its 4 KiB write
// buffer plus one 32 KiB copy chunk of the body, so 64 KiB always covers a
// retry, and bodies of any size still stream to the app unbuffered.
const replayPrefix = 64 << 10

// errNoReplay is what GetBody returns once more of the body was read than
// can be replayed.
var errNoReplay = errors.New("request body already sent in part: cannot send it again")

// errRequestOver is what reads of a body return once its request is over.
var errRequestOver = errors.New("request is over")

// errBodyTooLarge is the body's read error past the app's max_body_size.
var errBodyTooLarge = errors.New("request body is larger than max_body_size")

var prefixPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// replayBody is a request body on its way upstream. It keeps the first
// replayPrefix bytes it read, so GetBody can give the transport the same
// body again, and it stops with errBodyTooLarge past limit bytes (0: no
// limit). It never closes the client's body: the server does, once the
// handler returned.
type replayBody struct {
	mu       sync.Mutex
	src      io.Reader // the client's body
	prefix   *bytes.Buffer
	overflow bool  // read more than replayPrefix: no replay
	read     int64 // bytes read from src
	limit    int64
	srcErr   error // sticky error of src (io.EOF at the end)
	closed   bool
}

func newReplayBody(src io.Reader, limit int64) *replayBody {
	b := prefixPool.Get().(*bytes.Buffer)
	b.Reset()
	return &replayBody{src: src, prefix: b, limit: limit}
}

// Read reads from the client's body, keeping what it can for a replay.
func (b *replayBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readLocked(p)
}

func (b *replayBody) readLocked(p []byte) (int, error) {
	if b.srcErr != nil {
		return 0, b.srcErr
	}
	if b.limit > 0 && int64(len(p)) > b.limit-b.read+1 {
		p = p[:b.limit-b.read+1] // one byte past the limit tells it is exceeded
	}
	n, err := b.src.Read(p)
	b.read += int64(n)
	if b.limit > 0 && b.read > b.limit {
		n -= int(b.read - b.limit)
		b.read = b.limit
		err = fmt.Errorf("%w (%d bytes)", errBodyTooLarge, b.limit)
	}
	if !b.overflow && b.prefix != nil {
		if b.prefix.Len()+n <= replayPrefix {
			b.prefix.Write(p[:n])
		} else {
			b.overflow = true
		}
	}
	if err != nil {
		b.srcErr = err
	}
	return n, err
}

// Close is called by the transport when it is done with the body (or
// before a retry). The client's body stays open for a replay.
func (b *replayBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

// GetBody returns the body again from its start: the kept prefix, then
// whatever the client has not sent yet.
func (b *replayBody) GetBody() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overflow || b.prefix == nil {
		return nil, errNoReplay
	}
	return &replayReader{b: b, prefix: bytes.NewReader(b.prefix.Bytes())}, nil
}

// release returns the prefix buffer once the request is over. Later
// reads and replays fail.
func (b *replayBody) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.prefix != nil && b.prefix.Cap() <= 2*replayPrefix {
		prefixPool.Put(b.prefix)
	}
	b.prefix = nil
	if b.srcErr == nil {
		b.srcErr = errRequestOver
	}
}

// replayReader is a replay of b: its kept prefix, then the rest of the
// client's body, read through b so the limit and the prefix stay right.
type replayReader struct {
	b      *replayBody
	prefix *bytes.Reader
}

func (r *replayReader) Read(p []byte) (int, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.prefix == nil {
		return 0, errRequestOver
	}
	if r.prefix.Len() > 0 {
		return r.prefix.Read(p)
	}
	return r.b.readLocked(p)
}

func (r *replayReader) Close() error { return nil }
