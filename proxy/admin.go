package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// adminPath is the one HTTP endpoint on the admin socket.
const adminPath = "/v1/admin"

// maxAdminBody bounds one admin request or response.
const maxAdminBody = 16 << 20

// adminHandler answers protocol.Requests posted as JSON. Failures of an op
// travel in the Response with status 200; other statuses mean the request
// itself was unusable.
func (s *server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+adminPath, func(w http.ResponseWriter, r *http.Request) {
		var req protocol.Request
		if err := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody)).Decode(&req); err != nil {
			http.Error(w, "bad admin request: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.handle(r.Context(), req))
	})
	return mux
}

// handle runs one admin op. Every change is saved before it is answered.
func (s *server) handle(ctx context.Context, req protocol.Request) protocol.Response {
	switch req.Op {
	case protocol.OpPing:
		self := s.opts.Binary
		if self == "" {
			self, _ = os.Executable()
		}
		return protocol.Response{Version: Version, Revision: Revision, Binary: self, Supervised: IsChild()}
	case protocol.OpUpgrade:
		return errResponse(s.requestUpgrade(req.Path))
	case protocol.OpUpgradeStatus:
		st, err := readUpgradeStatus(s.opts.StatePath)
		if err != nil {
			return errResponse(fmt.Errorf("no upgrade on record: %w", err))
		}
		return protocol.Response{Upgrade: &st}
	case protocol.OpProbe:
		p := Probe(ctx, req.Target, req.Path, req.Timeout)
		return protocol.Response{Probe: &p}
	case protocol.OpSetRoute:
		return s.setRoute(req)
	case protocol.OpDrain:
		n, err := s.router.Drain(ctx, req.App, req.Targets, req.Timeout)
		s.logger.Info("drained", "app", req.App, "targets", req.Targets, "still_in_flight", n)
		resp := errResponse(err)
		resp.Remaining = n
		return resp
	case protocol.OpRemoveRoute:
		s.router.RemoveRoute(req.App)
		s.certs.forgetCustom(req.App)
		s.routesChanged()
		s.logger.Info("route removed", "app", req.App)
		return errResponse(s.persist())
	case protocol.OpSetCertificate:
		if req.Certificate == nil {
			return errResponse(errors.New("set_certificate needs a certificate"))
		}
		c := req.Certificate
		if err := s.certs.SetCustom(req.App, c.Certificate, c.PrivateKey, c.Hosts); err != nil {
			return errResponse(err)
		}
		s.logger.Info("certificate set", "app", req.App, "hosts", strings.Join(c.Hosts, ","))
		return protocol.Response{}
	case protocol.OpCertificates:
		return protocol.Response{Certificates: s.certs.status()}
	case protocol.OpRoutes:
		return protocol.Response{Routes: s.router.Routes()}
	case protocol.OpLock:
		tookOver, err := s.store.Lock(req.Key, req.Holder, req.Lease)
		if err == nil && tookOver {
			s.logger.Warn("expired lock taken over", "key", req.Key, "holder", req.Holder)
		}
		resp := s.changed(err)
		resp.TookOver = tookOver && err == nil
		return resp
	case protocol.OpRenew:
		return s.changed(s.store.Renew(req.Key, req.Holder, req.Lease))
	case protocol.OpUnlock:
		return s.changed(s.store.Unlock(req.Key, req.Holder))
	case protocol.OpSave:
		if req.Record == nil {
			return errResponse(errors.New("save needs a record"))
		}
		return s.changed(s.store.Save(*req.Record))
	case protocol.OpLoad:
		r, err := s.store.Load(req.Project, req.App)
		if err != nil {
			return errResponse(err)
		}
		return protocol.Response{Record: &r}
	case protocol.OpForget:
		err := s.store.Forget(req.Project, req.App)
		if err == nil {
			s.logger.Info("record forgotten", "record", recordKey(req.Project, req.App))
		}
		return s.changed(err)
	case protocol.OpRecords:
		return protocol.Response{Records: s.store.Records()}
	case protocol.OpLocks:
		return protocol.Response{Locks: s.store.Locks()}
	case protocol.OpAppendEvent:
		if req.Event == nil {
			return errResponse(errors.New("append_event needs an event"))
		}
		return s.changed(s.store.AppendEvent(*req.Event))
	case protocol.OpEvents:
		return protocol.Response{Events: s.store.Events(req.Project)}
	case protocol.OpClaimPorts:
		if req.Claim == nil {
			return errResponse(errors.New("claim_ports needs a claim"))
		}
		return s.changed(s.store.ClaimPorts(*req.Claim))
	case protocol.OpPortClaims:
		return protocol.Response{Claims: s.store.PortClaims()}
	case protocol.OpReleaseLock:
		l, err := s.store.ReleaseLock(req.Key)
		if err != nil {
			return errResponse(err)
		}
		s.logger.Warn("lock released by force", "key", l.Key, "holder", l.Holder, "since", l.Since)
		resp := s.changed(nil)
		resp.Lock = &l
		return resp
	}
	return errResponse(fmt.Errorf("unknown admin op %q (is luma newer than this luma-proxy? run \"luma setup\")", req.Op))
}

func (s *server) setRoute(req protocol.Request) protocol.Response {
	if req.Route == nil {
		return errResponse(errors.New("set_route needs a route"))
	}
	prev, err := s.router.SetRoute(*req.Route)
	if err != nil {
		return errResponse(err)
	}
	s.routesChanged()
	s.logger.Info("route set", "app", req.Route.App, "hosts", strings.Join(req.Route.Hosts, ","),
		"targets", strings.Join(req.Route.Targets, ","), "was", strings.Join(prev.Targets, ","))
	resp := errResponse(s.persist())
	resp.Route = &prev
	return resp
}

// requestUpgrade asks the supervisor to hand over to the binary at path.
func (s *server) requestUpgrade(path string) error {
	if !IsChild() {
		return errors.New("this luma-proxy runs without a supervisor and cannot be upgraded in place: replace its container")
	}
	if err := checkBinary(s.opts.StatePath, path); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(BinDir(s.opts.StatePath), "next"), []byte(path)); err != nil {
		return fmt.Errorf("naming the next binary: %w", err)
	}
	s.logger.Info("upgrade requested", "binary", path)
	return syscall.Kill(os.Getppid(), syscall.SIGHUP)
}

// routesChanged has the certificates follow the routes: hosts that
// turned to HTTPS get theirs obtained in the background (the loop looks
// again at when the next one is due).
func (s *server) routesChanged() {
	s.certs.sync(s.router.snapshot())
	s.acme.kick()
}

// changed saves the state after a store op that succeeded.
func (s *server) changed(err error) protocol.Response {
	if err == nil {
		err = s.persist()
	}
	return errResponse(err)
}

// errResponse carries err, with the kind the client maps back to a drivers
// error.
func errResponse(err error) protocol.Response {
	if err == nil {
		return protocol.Response{}
	}
	resp := protocol.Response{Error: err.Error()}
	var locked *drivers.LockedError
	switch {
	case errors.As(err, &locked):
		resp.Kind = protocol.KindLocked
		resp.Lock = &locked.Lock
	case errors.Is(err, drivers.ErrNotFound):
		resp.Kind = protocol.KindNotFound
	}
	return resp
}

// Admin is `luma proxy admin`, run inside the luma-proxy container through
// docker exec: it reads one protocol.Request from stdin, relays it to the
// running proxy over socketPath and writes its protocol.Response to stdout.
// It fails only when the proxy cannot be reached; failures of the op
// itself are in the Response.
func Admin(ctx context.Context, socketPath string, stdin io.Reader, stdout io.Writer) error {
	var req protocol.Request
	var resp protocol.Response
	if err := json.NewDecoder(io.LimitReader(stdin, maxAdminBody)).Decode(&req); err != nil {
		resp = protocol.Response{Error: "bad admin request on stdin: " + err.Error()}
	} else if resp, err = Call(ctx, socketPath, req); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(resp)
}

// Call sends one request to the proxy listening on socketPath.
func Call(ctx context.Context, socketPath string, req protocol.Request) (protocol.Response, error) {
	return relay(ctx, adminClient(socketPath, false), socketPath, req)
}

// adminClient talks HTTP over the admin socket. A session keeps its
// connections alive across requests; a one-shot call needs none.
func adminClient(socketPath string, keepAlive bool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 16, // a session's concurrent requests
	}}
}

// relay posts req to the proxy through client. It fails only when the
// proxy cannot be reached or answers nonsense.
func relay(ctx context.Context, client *http.Client, socketPath string, req protocol.Request) (protocol.Response, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return protocol.Response{}, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://luma-proxy"+adminPath, bytes.NewReader(body))
	if err != nil {
		return protocol.Response{}, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	res, err := client.Do(hreq)
	if err != nil {
		return protocol.Response{}, fmt.Errorf("luma-proxy is not answering on %s (is the proxy process running?): %w", socketPath, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAdminBody))
	if err != nil {
		return protocol.Response{}, fmt.Errorf("reading luma-proxy's answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return protocol.Response{Error: strings.TrimSpace(string(data))}, nil
	}
	var resp protocol.Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return protocol.Response{}, fmt.Errorf("luma-proxy answered with something that is not a response: %w", err)
	}
	return resp, nil
}
