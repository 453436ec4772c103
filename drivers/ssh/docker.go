package ssh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// DockerSocket is the Engine's socket on the server.
const DockerSocket = "/var/run/docker.sock"

// DialDocker opens a stream to the server's Docker Engine: streamlocal
// forwarding to its socket, or, where the server forbids that, `docker
// system dial-stdio` in a session. Once forwarding was refused the
// connection goes straight to dial-stdio.
func (c *Conn) DialDocker(ctx context.Context) (net.Conn, error) {
	if !c.stdio.Load() {
		conn, err := c.client.DialContext(ctx, "unix", DockerSocket)
		if err == nil {
			return conn, nil
		}
		var reject *ssh.OpenChannelError
		if !errors.As(err, &reject) {
			return nil, fmt.Errorf("ssh %s: docker socket %s: %w", c, DockerSocket, err)
		}
		sc, err2 := c.dialStdio(ctx, true)
		if err2 != nil {
			return nil, fmt.Errorf("ssh %s: cannot reach the Docker Engine: forwarding to %s: %v (AllowStreamLocalForwarding no, or no such socket); fallback `docker system dial-stdio`: %w",
				c, DockerSocket, err, err2)
		}
		c.stdio.Store(true)
		c.refillStdio()
		return sc, nil
	}
	conn, err := c.takeStdio(ctx)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: docker system dial-stdio: %w", c, err)
	}
	return conn, nil
}

// UsesDialStdio tells whether the server refused streamlocal forwarding and
// Docker calls go through `docker system dial-stdio`.
func (c *Conn) UsesDialStdio() bool { return c.stdio.Load() }

// takeStdio returns the spare dial-stdio stream, started ahead, and starts
// the next one: starting the command costs a round trip plus a process start,
// which every exec attach would otherwise wait for (measured: exec p50 188 ms
// without the spare, 113 ms with it).
func (c *Conn) takeStdio(ctx context.Context) (net.Conn, error) {
	defer c.refillStdio()
	var sc *stdioConn
	select {
	case sc = <-c.spare:
	default:
		if c.refilling.Load() {
			// One is on its way: sooner than starting another.
			select {
			case sc = <-c.spare:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	if sc != nil {
		select {
		case <-sc.exited:
			sc.Close()
		default:
			return sc, nil
		}
	}
	sc, err := c.dialStdio(ctx, false)
	if err != nil {
		return nil, err
	}
	return sc, nil
}

// refillStdio starts the next spare stream unless one is on its way. It
// always delivers one value, nil when the start failed, so that a taker
// waiting for it is released.
func (c *Conn) refillStdio() {
	if !c.refilling.CompareAndSwap(false, true) {
		return
	}
	go func() {
		sc, err := c.dialStdio(context.Background(), false)
		if err != nil {
			sc = nil
		}
		c.refilling.Store(false)
		select {
		case c.spare <- sc:
		default:
			if sc != nil {
				sc.Close()
			}
		}
	}()
}

// dialStdio runs `docker system dial-stdio`. With probe it pings the Engine
// through the new stream before handing it over (HTTP keeps the stream
// usable), so that a missing docker CLI or socket shows here with the
// command's stderr. Later dials skip the probe; a failure then shows on the
// first Read.
func (c *Conn) dialStdio(ctx context.Context, probe bool) (*stdioConn, error) {
	s, err := c.client.NewSession()
	if err != nil {
		return nil, err
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, err
	}
	sc := &stdioConn{s: s, stdin: stdin, stdout: bufio.NewReader(stdout), exited: make(chan struct{})}
	s.Stderr = &sc.stderr
	if err := s.Start("docker system dial-stdio"); err != nil {
		s.Close()
		return nil, err
	}
	go func() {
		sc.waitErr = s.Wait()
		close(sc.exited)
	}()
	if !probe {
		return sc, nil
	}
	pinged := make(chan error, 1)
	go func() { pinged <- sc.ping() }()
	select {
	case err = <-pinged:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		sc.Close()
		select {
		case <-sc.exited:
			return nil, sc.exitError()
		case <-time.After(time.Second):
			return nil, err
		}
	}
	return sc, nil
}

// ping does GET /_ping on the stream and reads the whole answer.
func (c *stdioConn) ping() error {
	if _, err := io.WriteString(c.stdin, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.stdout, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/_ping: %s", resp.Status)
	}
	return nil
}

// stdioConn is a net.Conn over the stdin and stdout of a session.
type stdioConn struct {
	s       *ssh.Session
	stdin   io.WriteCloser
	stdout  *bufio.Reader
	stderr  lockedBuffer
	exited  chan struct{}
	waitErr error
	once    sync.Once
}

func (c *stdioConn) exitError() error {
	msg := strings.TrimSpace(c.stderr.String())
	if msg == "" && c.waitErr != nil {
		msg = c.waitErr.Error()
	}
	if msg == "" {
		msg = "exited"
	}
	return errors.New(msg)
}

func (c *stdioConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if err == io.EOF && n == 0 {
		select {
		case <-c.exited:
			if c.waitErr != nil {
				return 0, fmt.Errorf("docker system dial-stdio: %w", c.exitError())
			}
		default:
		}
	}
	return n, err
}

func (c *stdioConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// CloseWrite ends stdin, which dial-stdio passes on as a half close: exec
// attach relies on it to deliver EOF to the command.
func (c *stdioConn) CloseWrite() error { return c.stdin.Close() }

func (c *stdioConn) Close() error {
	c.once.Do(func() {
		c.stdin.Close()
		c.s.Close()
	})
	return nil
}

func (c *stdioConn) LocalAddr() net.Addr                { return stdioAddr{} }
func (c *stdioConn) RemoteAddr() net.Addr               { return stdioAddr{} }
func (c *stdioConn) SetDeadline(t time.Time) error      { return errNoDeadline }
func (c *stdioConn) SetReadDeadline(t time.Time) error  { return errNoDeadline }
func (c *stdioConn) SetWriteDeadline(t time.Time) error { return errNoDeadline }

var errNoDeadline = errors.New("ssh: dial-stdio: deadline not supported")

type stdioAddr struct{}

func (stdioAddr) Network() string { return "ssh" }
func (stdioAddr) String() string  { return "docker-dial-stdio" }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4096 {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
