package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/luma-deploy/luma/proxy/protocol"
)

// Version is reported by the ping op; the CLI may set it at link time.
var Version = "dev"

// Options configure Run. Zero values take the defaults in parentheses.
type Options struct {
	HTTPAddr string // where apps are served (":80")
	// HTTPSAddr is where apps with TLS are served ("": no HTTPS).
	HTTPSAddr  string
	StatePath  string // routes, locks and records (protocol.StatePath)
	SocketPath string // admin socket (protocol.SocketPath)
	// IdleConnTimeout closes idle upstream connections before the apps'
	// own keep-alive timeouts do, for apps that say nothing of theirs
	// (500ms: safe for any app that keeps idle connections a second or
	// more, even when the proxy reads a response late on a loaded
	// machine; under load connections are reused long before).
	IdleConnTimeout time.Duration
	// UpstreamTimeout is how long an upstream may take to start its
	// response before the client gets 504 (60s).
	UpstreamTimeout time.Duration
	// ShutdownTimeout is how long requests in flight may finish once ctx
	// is done (30s).
	ShutdownTimeout time.Duration
	Logger          *slog.Logger // (text on stderr)
	// Handover, when set, gives the listeners a supervisor opened (so a
	// successor can accept on them while this process stops) and how the
	// handover is reported.
	Handover *Handover
	// Binary is the executable a ping names, through which clients relay
	// their admin calls (default: this process's, which in the container
	// it is).
	Binary string
}

// Handover is what a supervised proxy process gets from its supervisor.
type Handover struct {
	HTTP, HTTPS, Admin net.Listener // HTTPS may be nil
	// TakeAdmin, when not nil, holds back the admin socket until it is
	// closed: the process before this one still answers admin calls.
	TakeAdmin <-chan struct{}
	// Report is called with "serving" (traffic is accepted), "admin"
	// (admin calls are) and "admin-closed" (stopping: no more admin calls).
	Report func(event string)
	// Successor is set when this process stops for a successor that
	// accepts on the same sockets (SIGUSR2), not for good (SIGTERM): only
	// then is it worth waiting for idle keep-alive connections to move.
	Successor atomic.Bool
}

func (o Options) withDefaults() Options {
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":80"
	}
	if o.StatePath == "" {
		o.StatePath = protocol.StatePath
	}
	if o.SocketPath == "" {
		o.SocketPath = protocol.SocketPath
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = 500 * time.Millisecond
	}
	if o.UpstreamTimeout <= 0 {
		o.UpstreamTimeout = 60 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return o
}

// Run serves apps on opts.HTTPAddr and the admin protocol on
// opts.SocketPath until ctx is done, then stops accepting and lets requests
// in flight finish for up to opts.ShutdownTimeout.
func Run(ctx context.Context, opts Options) error {
	opts = opts.withDefaults()
	s := newServer(opts)
	restored := s.load()
	if h := opts.Handover; h != nil {
		return s.serve(ctx, h.HTTP, h.HTTPS, h.Admin, restored)
	}
	httpLn, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening for traffic: %w", err)
	}
	var httpsLn net.Listener
	if opts.HTTPSAddr != "" {
		if httpsLn, err = net.Listen("tcp", opts.HTTPSAddr); err != nil {
			httpLn.Close()
			return fmt.Errorf("listening for HTTPS: %w", err)
		}
	}
	adminLn, err := listenAdmin(opts.SocketPath)
	if err != nil {
		httpLn.Close()
		if httpsLn != nil {
			httpsLn.Close()
		}
		return err
	}
	return s.serve(ctx, httpLn, httpsLn, adminLn, restored)
}

// server is one luma-proxy process: its router, its store and the file
// both are saved to.
type server struct {
	opts   Options
	logger *slog.Logger
	router *Router
	store  *Store
	certs  *certStore
	acme   *acmeLoop
	// fallback is served to HTTPS hosts without a certificate.
	fallback *tls.Certificate
	// draining: the proxy is stopping; HTTP/1 responses close their
	// connection so clients move to the successor.
	draining atomic.Bool
	// requests counts those in flight, before and after the stop.
	requests requestGauge

	saveMu sync.Mutex
	// unknown is what a newer proxy wrote in the state file
	// (State.Unknown), written back by persist; saveMu guards it.
	unknown map[string]json.RawMessage
}

func newServer(opts Options) *server {
	certs := newCertStore(filepath.Join(filepath.Dir(opts.StatePath), "certs"), opts.Logger)
	fallback, err := selfSigned()
	if err != nil {
		panic(err) // crypto/rand failing: nothing would work
	}
	return &server{
		certs:    certs,
		acme:     newACMELoop(certs),
		fallback: fallback,
		opts:     opts,
		logger:   opts.Logger,
		router: newRouter(targetOptions{
			IdleConnTimeout: opts.IdleConnTimeout,
			UpstreamTimeout: opts.UpstreamTimeout,
			Logger:          opts.Logger,
		}),
		store: newStore(time.Now),
	}
}

// load restores the state file, skipping what cannot be restored, and
// returns the services whose targets must pass a probe before they are
// trusted with traffic.
func (s *server) load() []*Service {
	st, skipped, err := readState(s.opts.StatePath)
	if err != nil {
		s.logger.Error("cannot read state, starting empty", "state", s.opts.StatePath, "err", err)
		if dst, qerr := quarantine(s.opts.StatePath, time.Now()); qerr == nil {
			s.logger.Warn("kept the unreadable state file", "as", dst)
		}
		return nil
	}
	restored, errs := s.router.restore(st.Routes)
	s.store.restore(st.Locks, st.Records, st.Events, st.Ports)
	s.keepUnknown(st.Unknown)
	s.certs.sync(s.router.snapshot())
	for _, err := range append(skipped, errs...) {
		s.logger.Warn("state entry skipped", "state", s.opts.StatePath, "err", err)
	}
	if len(st.Routes)+len(st.Locks)+len(st.Records) > 0 {
		s.logger.Info("state restored", "routes", len(restored), "locks", len(st.Locks), "records", len(st.Records), "state", s.opts.StatePath)
	}
	return restored
}

// persist writes the whole state after a change. Saves are serialized and
// each snapshots the state when it runs, so the last write is the newest.
func (s *server) persist() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	st := State{
		Version: stateVersion,
		Routes:  s.router.snapshot(),
		Locks:   s.store.Locks(),
		Records: s.store.Records(),
		Events:  s.store.allEvents(),
		Ports:   s.store.PortClaims(),
		Unknown: s.unknown,
	}
	if err := writeState(s.opts.StatePath, st); err != nil {
		s.logger.Error("saving state", "state", s.opts.StatePath, "err", err)
		return fmt.Errorf("the change is live but could not be saved to %s: %w", s.opts.StatePath, err)
	}
	return nil
}

func (s *server) serve(ctx context.Context, httpLn, httpsLn, adminLn net.Listener, restored []*Service) error {
	watchCtx, stopWatch := context.WithCancel(ctx)
	hw := &healthWatcher{logger: s.logger, interval: time.Second, timeout: 2 * time.Second}
	defer hw.wait()
	defer stopWatch()
	for _, svc := range restored {
		hw.watch(watchCtx, svc)
	}
	acmeDone := make(chan struct{})
	go func() { s.acme.run(watchCtx); close(acmeDone) }()
	defer func() { <-acmeDone }()

	conns := &connTracker{}
	web := &http.Server{
		Handler:           s.httpHandler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       75 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
		ConnState:         conns.track,
		// No ReadTimeout/WriteTimeout: uploads, streams and WebSockets
		// may last as long as the app wants.
	}
	admin := &http.Server{Handler: s.adminHandler(), ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}
	traffic := []*http.Server{web}
	listeners := []net.Listener{httpLn}
	errc := make(chan error, 3)
	go func() { errc <- web.Serve(httpLn) }()
	httpsAddr := ""
	if httpsLn != nil {
		secure := &http.Server{
			Handler:           s.httpsHandler(),
			TLSConfig:         s.tlsConfig(),
			ReadHeaderTimeout: web.ReadHeaderTimeout,
			IdleTimeout:       web.IdleTimeout,
			ErrorLog:          web.ErrorLog,
			ConnState:         conns.track,
		}
		traffic, listeners = append(traffic, secure), append(listeners, httpsLn)
		go func() { errc <- secure.ServeTLS(httpsLn, "", "") }()
		httpsAddr = httpsLn.Addr().String()
	}
	s.report("serving")
	s.logger.Info("serving", "apps", httpLn.Addr().String(), "https", httpsAddr, "admin", adminLn.Addr().String(), "version", Version)
	go func() {
		if h := s.opts.Handover; h != nil && h.TakeAdmin != nil {
			select {
			case <-h.TakeAdmin:
			case <-ctx.Done():
				errc <- nil
				return
			}
			// The process before this one has stopped answering and
			// saved every change it made since this one read the state.
			s.reloadStore()
			s.logger.Info("took over the admin socket")
		}
		s.report("admin")
		errc <- admin.Serve(adminLn)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown(admin, traffic, listeners, conns)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// report tells the supervisor how the handover goes, if there is one.
func (s *server) report(event string) {
	if h := s.opts.Handover; h != nil && h.Report != nil {
		h.Report(event)
	}
}

// reloadStore re-reads the locks and records a previous process may have
// changed after this one started.
func (s *server) reloadStore() {
	st, _, err := readState(s.opts.StatePath)
	if err != nil {
		s.logger.Error("re-reading state at the handover", "err", err)
		return
	}
	s.store.restore(st.Locks, st.Records, st.Events, st.Ports)
	s.keepUnknown(st.Unknown)
}

// keepUnknown keeps what a newer proxy wrote in the state file, to write
// it back.
func (s *server) keepUnknown(u map[string]json.RawMessage) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.unknown = u
}

// idleGrace is how long a stopping proxy waits for HTTP/1 keep-alive
// connections to carry one more request (answered with Connection:
// close) or be closed by their clients, before it closes them: closing an
// idle connection races with a client that is just sending on it.
var idleGrace = 5 * time.Second

// shutdown stops the proxy losing as little as it can. It stops answering
// admin calls first (a successor may take them) and answers every HTTP/1
// request from now on with Connection: close. For a successor that
// accepts on the same sockets (an upgrade), it stops accepting at once and
// gives idle keep-alive connections idleGrace to move. For good (docker
// stop or restart), it keeps accepting, so clients are served rather than
// refused, until the requests it had when told to stop are done, then
// stops accepting and gives the requests that came meanwhile
// finalGrace. Then it shuts the servers down (HTTP/2 clients get GOAWAY)
// and lets requests in flight finish; all of it within ShutdownTimeout.
func (s *server) shutdown(admin *http.Server, traffic []*http.Server, listeners []net.Listener, conns *connTracker) {
	s.logger.Info("shutting down, waiting for requests in flight", "up_to", s.opts.ShutdownTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	s.draining.Store(true) // before anything a client can see of the stop
	actx, acancel := context.WithTimeout(ctx, 5*time.Second)
	if err := admin.Shutdown(actx); err != nil {
		admin.Close()
	}
	acancel()
	s.report("admin-closed")
	successor := s.opts.Handover != nil && s.opts.Handover.Successor.Load()
	if !successor {
		s.requests.waitBefore(ctx)
	}
	for _, ln := range listeners {
		ln.Close()
	}
	if successor {
		conns.waitIdleGone(idleGrace)
	} else {
		gctx, gcancel := context.WithTimeout(ctx, finalGrace)
		s.requests.waitAfter(gctx)
		gcancel()
	}
	var wg sync.WaitGroup
	for _, srv := range traffic {
		wg.Go(func() {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
			}
		})
	}
	wg.Wait()
	s.router.close()
}

// finalGrace is how long requests that arrived while a proxy stopping
// for good drained may still take once it stops accepting.
var finalGrace = 2 * time.Second

// listenAdmin opens the admin socket, readable only by root (0600), in a
// directory created if missing. A socket left by a dead proxy is removed;
// a live one means another proxy runs and is an error.
func listenAdmin(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("admin socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another luma-proxy is already serving on %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale admin socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}
