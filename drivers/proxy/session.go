package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// SessionCommand is run in ContainerName once per client, for every call
// while it lasts.
var SessionCommand = []string{"/luma", "proxy", "admin", "--session"}

// ErrSessionLost is wrapped by a call that was sent on an admin session
// that ended before it answered. Calls that are safe to repeat are repeated
// by one-shot exec and never return it; SetRoute and Lock may have been
// applied, so they return it and the caller treats their outcome as unknown.
var ErrSessionLost = errors.New("luma-proxy admin session ended")

// StreamExecer can also run a command with streamed stdin and stdout;
// drivers.Engine satisfies it. A Client over one keeps a session open.
type StreamExecer interface {
	Execer
	ExecStream(ctx context.Context, container string, cmd []string) (drivers.ExecSession, error)
}

// openTimeout bounds starting a session (exec create and attach).
const openTimeout = 30 * time.Second

// closeWait is how long Close lets the remote command see EOF and exit.
const closeWait = time.Second

// session is one `luma proxy admin --session` exec: requests go out as
// lines with IDs, and one reader hands each answer to the caller waiting
// for that ID.
type session struct {
	ready  chan struct{} // closed once opened or failed to open
	es     drivers.ExecSession
	cancel context.CancelFunc // cuts the stream

	wmu sync.Mutex // one request line at a time

	mu       sync.Mutex
	pending  map[uint64]chan protocol.Response
	err      error         // why it ended, wrapping ErrSessionLost
	done     chan struct{} // closed when it ends
	answered atomic.Bool   // it answered at least once
}

// session returns the open session, opening one if none is and the last
// one did not just fail to work; nil means "use one-shot exec".
func (c *Client) session(ctx context.Context) *session {
	if c.se == nil {
		return nil
	}
	c.mu.Lock()
	s := c.cur
	if s == nil {
		if c.closed || time.Now().Before(c.retryAt) {
			c.mu.Unlock()
			return nil
		}
		s = &session{ready: make(chan struct{}), pending: map[uint64]chan protocol.Response{}, done: make(chan struct{})}
		c.cur = s
		go c.open(s)
	}
	c.mu.Unlock()
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil
	}
	select {
	case <-s.done:
		return nil // failed to open; lost() set the back-off
	default:
		return s
	}
}

// open starts the remote command and the reader of its answers.
func (c *Client) open(s *session) {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	timer := time.AfterFunc(openTimeout, cancel)
	es, err := c.se.ExecStream(ctx, ContainerName, c.command(SessionCommand))
	if !timer.Stop() && err == nil {
		err = fmt.Errorf("opening took over %s", openTimeout)
	}
	if err != nil {
		s.fail(err)
		close(s.ready)
		c.lost(s)
		return
	}
	s.es = es
	close(s.ready)
	go func() {
		out := es.Stdout()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 32<<20)
		for sc.Scan() {
			var resp protocol.Response
			if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
				s.fail(fmt.Errorf("unreadable answer (run \"luma setup\" to update luma-proxy): %w", err))
				break
			}
			s.answered.Store(true)
			s.mu.Lock()
			ch := s.pending[resp.ID]
			delete(s.pending, resp.ID)
			s.mu.Unlock()
			if ch != nil { // nil: its caller gave up waiting
				ch <- resp
			}
		}
		err := sc.Err()
		if err == nil {
			if err = es.Wait(); err == nil {
				err = io.EOF
			}
		}
		s.fail(err)
		io.Copy(io.Discard, out) // the stream is cut: let its writer finish
		c.lost(s)
	}()
}

// fail ends the session once: pending callers get err, wrapped in
// ErrSessionLost, and the stream is cut.
func (s *session) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("%w: %w", ErrSessionLost, err)
		close(s.done)
	}
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

// lost forgets s, once it ended. A session that never answered (a
// luma-proxy too old for sessions, or not running) is retried only after a
// growing pause; one that worked is reopened by the next call.
func (c *Client) lost(s *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != s {
		return
	}
	c.cur = nil
	if s.answered.Load() {
		c.backoff, c.retryAt = 0, time.Time{}
		return
	}
	c.backoff = min(max(2*c.backoff, 2*time.Second), time.Minute)
	c.retryAt = time.Now().Add(c.backoff)
}

// roundTrip sends req with a new ID and waits for its answer. sent tells
// whether req may have reached the proxy when it fails.
func (s *session) roundTrip(ctx context.Context, id uint64, req protocol.Request) (resp protocol.Response, sent bool, err error) {
	req.ID = id
	line, err := json.Marshal(req)
	if err != nil {
		return protocol.Response{}, false, err
	}
	ch := make(chan protocol.Response, 1)
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return protocol.Response{}, false, s.err
	}
	s.pending[id] = ch
	s.mu.Unlock()

	s.wmu.Lock()
	_, err = s.es.Write(append(line, '\n'))
	s.wmu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("sending a request: %w", err))
	}
	select {
	case resp := <-ch:
		return resp, true, nil
	case <-s.done:
		select {
		case resp := <-ch: // answered just before the end
			return resp, true, nil
		default:
			return protocol.Response{}, true, s.err
		}
	case <-ctx.Done():
		s.mu.Lock()
		delete(s.pending, id) // a late answer is dropped
		s.mu.Unlock()
		return protocol.Response{}, true, ctx.Err()
	}
}

// Close ends the admin session, if one is open: closing its stdin makes
// the remote command exit once it has answered what it was asked. Later
// calls run by one-shot exec.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	s := c.cur
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	<-s.ready
	if s.es != nil {
		s.es.Close()
		select {
		case <-s.done:
		case <-time.After(closeWait):
		}
	}
	s.fail(errors.New("closed"))
	return nil
}

// replayable tells whether an op may be sent again after a lost answer
// with the same effect: SetRoute would report the new route as the one it
// replaced, and Lock would lose that it took over an expired lease.
func replayable(op string) bool {
	return op != protocol.OpSetRoute && op != protocol.OpLock && op != protocol.OpUpgrade
}
