// Package proxy is the client of luma-proxy on one server: it runs
// `luma proxy admin --session` inside the luma-proxy container (docker
// exec) once, and sends every call over it as one JSON line with an ID,
// concurrently. Without a session (an Execer that cannot stream, a proxy
// too old for sessions, or one that just broke), a call runs
// `luma proxy admin` by itself with one JSON request on stdin and reads one
// JSON response from stdout, at ~60 ms per exec.
package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// ContainerName is the proxy container on every server.
const ContainerName = naming.ProxyContainer

// AdminCommand is run in ContainerName for a call made without a session.
var AdminCommand = []string{"/luma", "proxy", "admin"}

// ErrNotRunning is returned when the luma-proxy container is missing or
// stopped. It is deliberately not drivers.ErrNotFound, so that a missing
// proxy is never mistaken for a missing record.
var ErrNotRunning = errors.New(`luma-proxy is not running on this server: run "luma setup"`)

// Execer runs a command in a container; drivers.Engine satisfies it.
type Execer interface {
	Exec(ctx context.Context, container string, cmd []string, stdin []byte) ([]byte, error)
}

// Client is luma-proxy on one server. It implements drivers.Proxy and is
// safe for concurrent use; Close ends its session.
type Client struct {
	e      Execer
	se     StreamExecer // nil: one exec per call
	lastID atomic.Uint64

	resolveMu sync.Mutex // one ping at a time names the binary (relay.go)
	resolved  bool
	mu        sync.Mutex
	bin       string   // the relay's binary; "" until resolved: the image's
	cur       *session // open or opening
	closed    bool
	backoff   time.Duration // after sessions that never answered
	retryAt   time.Time
}

var _ drivers.Proxy = (*Client)(nil)

// New returns a client that reaches luma-proxy through e, over one session
// when e can stream.
func New(e Execer) *Client {
	se, _ := e.(StreamExecer)
	return &Client{e: e, se: se}
}

// call runs one admin request, on the session when there is one, through
// the binary the proxy runs (relay.go), and maps the response's error back
// to the drivers errors.
func (c *Client) call(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	c.resolve(ctx)
	return c.do(ctx, req)
}

func (c *Client) do(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	if s := c.session(ctx); s != nil {
		resp, sent, err := s.roundTrip(ctx, c.lastID.Add(1), req)
		switch {
		case err == nil:
			return resp, respError(req.Op, resp)
		case !errors.Is(err, ErrSessionLost):
			return protocol.Response{}, execError(err) // ctx
		case sent && !replayable(req.Op):
			c.lost(s)
			return protocol.Response{}, fmt.Errorf("luma-proxy %s: no answer, it may have been applied: %w", req.Op, err)
		}
		c.lost(s)
	}
	return c.oneShot(ctx, req)
}

// oneShot runs one admin request in its own exec.
func (c *Client) oneShot(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	in, err := json.Marshal(req)
	if err != nil {
		return protocol.Response{}, err
	}
	out, err := c.e.Exec(ctx, ContainerName, c.command(AdminCommand), in)
	if err != nil {
		return protocol.Response{}, execError(err)
	}
	var resp protocol.Response
	if err := json.Unmarshal(out, &resp); err != nil {
		return protocol.Response{}, fmt.Errorf("luma-proxy gave an answer luma cannot read (run \"luma setup\" to update it): %w", err)
	}
	return resp, respError(req.Op, resp)
}

// execError words a failed docker exec for a user.
func execError(err error) error {
	switch {
	case errors.Is(err, drivers.ErrNotFound):
		return ErrNotRunning
	case errors.Is(err, drivers.ErrConflict), strings.Contains(err.Error(), "is not running"):
		return fmt.Errorf("%w (the container exists but is stopped)", ErrNotRunning)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("luma-proxy did not answer in time: %w", err)
	}
	return fmt.Errorf("luma-proxy on this server did not answer (see `docker logs %s`, or run \"luma setup\"): %w", ContainerName, err)
}

// respError turns a failed op into the error drivers callers expect.
func respError(op string, resp protocol.Response) error {
	if resp.Error == "" {
		return nil
	}
	switch resp.Kind {
	case protocol.KindNotFound:
		return fmt.Errorf("luma-proxy %s: %s: %w", op, resp.Error, drivers.ErrNotFound)
	case protocol.KindLocked:
		if resp.Lock != nil {
			return &drivers.LockedError{Lock: *resp.Lock}
		}
	}
	return fmt.Errorf("luma-proxy %s: %s", op, resp.Error)
}

// Ping checks that the proxy answers and returns its version.
func (c *Client) Ping(ctx context.Context) (string, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpPing})
	return resp.Version, err
}

// Probe requests path on target once, from the proxy's network position.
// A failed probe is reported in the Probe, not as an error.
func (c *Client) Probe(ctx context.Context, target, path string, timeout time.Duration) (drivers.Probe, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpProbe, Target: target, Path: path, Timeout: timeout})
	if err != nil {
		return drivers.Probe{}, err
	}
	if resp.Probe == nil {
		return drivers.Probe{}, errors.New("luma-proxy probe: empty answer")
	}
	return *resp.Probe, nil
}

// SetRoute atomically replaces an app's route and returns the one it
// replaced (zero for a new app).
func (c *Client) SetRoute(ctx context.Context, r drivers.Route) (drivers.Route, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpSetRoute, Route: &r})
	if err != nil || resp.Route == nil {
		return drivers.Route{}, err
	}
	return *resp.Route, nil
}

// Drain waits until none of targets has a request in flight or timeout
// passes, and returns how many were still in flight.
func (c *Client) Drain(ctx context.Context, app string, targets []string, timeout time.Duration) (int, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpDrain, App: app, Targets: targets, Timeout: timeout})
	return resp.Remaining, err
}

// RemoveRoute stops serving app; removing an unknown app is no error.
func (c *Client) RemoveRoute(ctx context.Context, app string) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpRemoveRoute, App: app})
	return err
}

// Routes lists every app's route.
func (c *Client) Routes(ctx context.Context) ([]drivers.Route, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpRoutes})
	return resp.Routes, err
}

// Save keeps the record of r's project/app.
func (c *Client) Save(ctx context.Context, r machine.Record) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpSave, Record: &r})
	return err
}

// Lock takes key for holder; true when an expired lease was taken over.
func (c *Client) Lock(ctx context.Context, key, holder string, lease time.Duration) (bool, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpLock, Key: key, Holder: holder, Lease: lease})
	return resp.TookOver, err
}

// Renew extends holder's lease on key.
func (c *Client) Renew(ctx context.Context, key, holder string, lease time.Duration) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpRenew, Key: key, Holder: holder, Lease: lease})
	return err
}

// Unlock releases holder's lock on key.
func (c *Client) Unlock(ctx context.Context, key, holder string) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpUnlock, Key: key, Holder: holder})
	return err
}

// Load returns the record of project/app, or an error wrapping
// drivers.ErrNotFound.
func (c *Client) Load(ctx context.Context, project, app string) (machine.Record, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpLoad, Project: project, App: app})
	if err != nil || resp.Record == nil {
		if err == nil {
			err = errors.New("luma-proxy load: empty answer")
		}
		return machine.Record{}, err
	}
	return *resp.Record, nil
}

// Forget deletes the record of project/app; forgetting a missing record
// is no error, so a lost answer is simply asked again.
func (c *Client) Forget(ctx context.Context, project, app string) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpForget, Project: project, App: app})
	return err
}

// Records lists every record on the server.
func (c *Client) Records(ctx context.Context) ([]machine.Record, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpRecords})
	return resp.Records, err
}

// Locks lists every deploy lock on the server.
func (c *Client) Locks(ctx context.Context) ([]drivers.Lock, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpLocks})
	return resp.Locks, err
}

// SetCertificate gives app its own certificate; the key travels in the
// admin request's body (stdin of docker exec), never in argv.
func (c *Client) SetCertificate(ctx context.Context, app string, own drivers.OwnCertificate) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpSetCertificate, App: app, Certificate: &own})
	return err
}

// Certificates reports every HTTPS host's certificate.
func (c *Client) Certificates(ctx context.Context) ([]drivers.Certificate, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpCertificates})
	return resp.Certificates, err
}

// Info reports the proxy's version, revision and binary.
func (c *Client) Info(ctx context.Context) (drivers.ProxyInfo, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpPing})
	if err == nil {
		c.useBinary(resp.Binary) // an upgrade in place just took over
	}
	return drivers.ProxyInfo{Version: resp.Version, Revision: resp.Revision, Binary: resp.Binary, Supervised: resp.Supervised}, err
}

// Upgrade asks the proxy's supervisor to hand over to the binary at path.
func (c *Client) Upgrade(ctx context.Context, path string) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpUpgrade, Path: path})
	return err
}

// UpgradeStatus is the outcome of the last upgrade in place.
func (c *Client) UpgradeStatus(ctx context.Context) (drivers.UpgradeStatus, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpUpgradeStatus})
	if err != nil || resp.Upgrade == nil {
		return drivers.UpgradeStatus{}, err
	}
	return *resp.Upgrade, nil
}
