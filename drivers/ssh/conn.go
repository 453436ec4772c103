package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// Conn is one SSH connection to a server. Every Docker call to that server
// goes through it as a channel.
type Conn struct {
	opts   Options
	client *ssh.Client

	pty      *ssh.Session // held open for TCP_NODELAY; nil when refused
	ptyIn    io.WriteCloser
	ptyDone  chan struct{}
	ptyError error

	stdio     atomic.Bool     // streamlocal refused once: go straight to dial-stdio
	spare     chan *stdioConn // a dial-stdio stream started ahead; nil if that failed
	refilling atomic.Bool

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// keepaliveInterval is how often an idle connection is checked; a server
// that does not answer within the dial timeout is given up.
var keepaliveInterval = 15 * time.Second

// Dial connects and authenticates to one server and verifies its host key.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	return dial(ctx, o, true)
}

// DialWithoutPTY is Dial without the held PTY session, for measuring what the
// PTY buys. Not for production use.
func DialWithoutPTY(ctx context.Context, o Options) (*Conn, error) {
	return dial(ctx, o, false)
}

func dial(ctx context.Context, o Options, holdPTY bool) (*Conn, error) {
	o = o.withDefaults()
	if o.Host == "" {
		return nil, errors.New("ssh: no host")
	}
	addr := o.Addr()
	fail := func(err error) error {
		var unknown *UnknownHostError
		var mismatch *HostKeyMismatchError
		if errors.As(err, &unknown) {
			return unknown
		}
		if errors.As(err, &mismatch) {
			return mismatch
		}
		return fmt.Errorf("ssh %s@%s: %w", o.User, addr, err)
	}

	hk, err := newHostKeys(o)
	if err != nil {
		return nil, err
	}
	keys, closeAgent, err := signers(o)
	if err != nil {
		return nil, fail(err)
	}
	defer closeAgent()

	d := net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fail(err)
	}
	limitUnsent(tcp)
	// The handshake has no context: bound it by the timeout and by ctx.
	_ = tcp.SetDeadline(time.Now().Add(o.Timeout))
	stop := context.AfterFunc(ctx, func() { tcp.Close() })
	cfg := &ssh.ClientConfig{
		User:              o.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(keys...)},
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.algorithms(addr, tcp.RemoteAddr()),
		Timeout:           o.Timeout,
	}
	cc, chans, reqs, err := ssh.NewClientConn(tcp, addr, cfg)
	if !stop() {
		if err == nil {
			cc.Close()
		}
		return nil, fail(ctx.Err())
	}
	if err != nil {
		tcp.Close()
		if strings.Contains(err.Error(), "unable to authenticate") {
			err = fmt.Errorf("%w (is the key in the server's authorized_keys?)", err)
		}
		return nil, fail(err)
	}
	_ = tcp.SetDeadline(time.Time{})

	c := &Conn{opts: o, client: ssh.NewClient(cc, chans, reqs), done: make(chan struct{}), spare: make(chan *stdioConn, 1)}
	if holdPTY {
		c.ptyError = c.openPTY()
	}
	go c.keepalive()
	return c, nil
}

// openPTY holds one session with a PTY running an idle command. sshd turns
// on TCP_NODELAY for the connection only when a session has a PTY; without
// it 15-20% of small calls wait ~40 ms for a delayed ACK. Failure (e.g.
// PermitTTY no) is not fatal: calls are just slower.
func (c *Conn) openPTY() error {
	s, err := c.client.NewSession()
	if err != nil {
		return err
	}
	modes := ssh.TerminalModes{ssh.ECHO: 0, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := s.RequestPty("dumb", 24, 80, modes); err != nil {
		s.Close()
		return err
	}
	in, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return err
	}
	// cat reads the PTY until end of input and prints nothing.
	if err := s.Start("exec cat >/dev/null"); err != nil {
		s.Close()
		return err
	}
	c.pty, c.ptyIn, c.ptyDone = s, in, make(chan struct{})
	go func() { s.Wait(); close(c.ptyDone) }()
	return nil
}

// closePTY ends cat with ^D rather than a hangup: a shell killed while
// still reading its startup files can leave them half done (pyenv's rehash
// lock left behind makes every later session wait 60 s).
func (c *Conn) closePTY() {
	if c.pty == nil {
		return
	}
	io.WriteString(c.ptyIn, "\x04")
	select {
	case <-c.ptyDone:
	case <-time.After(time.Second):
	}
	c.pty.Close()
}

// Interactive tells whether the PTY session is held, i.e. whether the server
// sends small packets without delay.
func (c *Conn) Interactive() (bool, error) { return c.pty != nil, c.ptyError }

// String names the connection for messages: user@host:port.
func (c *Conn) String() string { return c.opts.User + "@" + c.opts.Addr() }

// Client is the underlying SSH client, for commands of its own.
func (c *Conn) Client() *ssh.Client { return c.client }

func (c *Conn) keepalive() {
	t := time.NewTicker(keepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		select {
		case <-c.done:
			return
		case err := <-reply:
			if err != nil {
				c.Close()
				return
			}
		case <-time.After(c.opts.Timeout):
			c.Close()
			return
		}
	}
}

// Wait blocks until the connection ends.
func (c *Conn) Wait() error { return c.client.Wait() }

// Close ends the PTY session, the keepalives and the connection.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		select {
		case sc := <-c.spare:
			if sc != nil {
				sc.Close()
			}
		default:
		}
		c.closePTY()
		c.closeErr = c.client.Close()
	})
	return c.closeErr
}
