// Package docker implements drivers.Engine with the Docker Engine API, on
// the local socket or tunnelled over one SSH connection per server.
package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/ssh"
)

// Localhost is the server name that means the local Engine (DOCKER_HOST or
// the default socket), without SSH.
const Localhost = "localhost"

// Target says which server's Engine to reach and how.
type Target struct {
	Server string // "localhost" or the host reached over SSH
	SSH    ssh.Options
}

// Engine is one server's Docker Engine.
type Engine struct {
	server string
	cli    *client.Client
	conn   *ssh.Conn // nil for localhost

	platformMu sync.Mutex
	platform   string
}

var _ drivers.Engine = (*Engine)(nil)

// Connect reaches the Engine of one server, negotiates the API version and
// pings it. The error says which server and what failed.
func Connect(ctx context.Context, t Target) (*Engine, error) {
	if t.Server != Localhost && t.Server != "" {
		o := t.SSH
		if o.Host == "" {
			o.Host = t.Server
		}
		conn, err := ssh.Dial(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.Server, err)
		}
		e, err := OverSSH(ctx, t.Server, conn)
		if err != nil {
			conn.Close()
		}
		return e, err
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: docker client: %w", Localhost, err)
	}
	return start(ctx, &Engine{server: Localhost, cli: cli})
}

// OverSSH reaches the Engine of server through an open SSH connection,
// which the Engine then owns and closes (on error the caller keeps it).
func OverSSH(ctx context.Context, server string, conn *ssh.Conn) (*Engine, error) {
	cli, err := client.New(
		client.WithHost("unix://"+ssh.DockerSocket),
		client.WithDialContext(func(ctx context.Context, _, _ string) (net.Conn, error) {
			return conn.DialDocker(ctx)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("%s: docker client: %w", server, err)
	}
	return start(ctx, &Engine{server: server, cli: cli, conn: conn})
}

// start negotiates the API version once (the client would do it lazily on
// the first call) and checks the Engine answers.
func start(ctx context.Context, e *Engine) (*Engine, error) {
	if _, err := e.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		e.cli.Close()
		return nil, fmt.Errorf("%s: %w", e.server, explainPing(e.cli.DaemonHost(), e.conn != nil, err))
	}
	return e, nil
}

// explainPing turns a failed first call into advice.
func explainPing(host string, overSSH bool, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, os.ErrPermission) || strings.Contains(msg, "permission denied"):
		return fmt.Errorf("permission denied on the Docker socket %s: run as root or add the user to the docker group: %w", host, err)
	case overSSH && strings.Contains(msg, "cannot reach the Docker Engine"):
		return err
	case client.IsErrConnectionFailed(err) || errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("cannot connect to the Docker Engine at %s; is dockerd running? %w", host, err)
	}
	return fmt.Errorf("docker ping %s: %w", host, err)
}

// Server is the server name this Engine was connected as.
func (e *Engine) Server() string { return e.server }

// SSH is the SSH connection under the Engine, nil for localhost.
func (e *Engine) SSH() *ssh.Conn { return e.conn }

// Close closes the client and the SSH connection.
func (e *Engine) Close() error {
	err := e.cli.Close()
	if e.conn != nil {
		if err2 := e.conn.Close(); err == nil {
			err = err2
		}
	}
	return err
}

// Platform is the Engine's os/arch, e.g. linux/amd64.
func (e *Engine) Platform(ctx context.Context) (string, error) {
	e.platformMu.Lock()
	defer e.platformMu.Unlock()
	if e.platform != "" {
		return e.platform, nil
	}
	v, err := e.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("docker version: %w", err)
	}
	e.platform = v.Os + "/" + v.Arch
	return e.platform, nil
}

// wrap maps the Engine's errors onto the drivers' ones,
// keeping the daemon's message.
func wrap(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return &drivers.OpError{Op: what, Err: drivers.ErrNotFound}
	case cerrdefs.IsConflict(err):
		return &drivers.OpError{Op: what, Err: fmt.Errorf("%w (%v)", drivers.ErrConflict, err)}
	}
	return &drivers.OpError{Op: what, Err: err}
}
