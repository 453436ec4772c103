package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/luma-deploy/luma/proxy/protocol"
)

// The supervisor is PID 1 of the luma-proxy container. It opens the
// listening sockets once and runs the proxy as a child process that
// inherits them, so that:
//   - an upgrade starts the new binary beside the old one on the same
//     sockets; the old one stops accepting, closes its keep-alive
//     connections politely and finishes its requests while the new one
//     accepts: no connection is refused, no request cut;
//   - a crashed proxy is restarted at once, and connections that arrive
//     meanwhile wait in the sockets' backlog instead of being refused.
//
// Children speak to it over a pipe (one word per line: serving, admin,
// admin-closed); it speaks to them with signals: SIGUSR2 stop for a
// successor, SIGTERM stop for good, SIGUSR1 take the admin socket.

// Environment of a supervised child.
const (
	envChild    = "LUMA_PROXY_CHILD"    // "1": run as the supervisor's child
	envHandover = "LUMA_PROXY_HANDOVER" // "1": wait for SIGUSR1 before taking admin calls
	envHTTPS    = "LUMA_PROXY_HTTPS"    // "1": fd 4 is the HTTPS listener
)

// Inherited descriptors of a child: 3 HTTP, 4 HTTPS (or /dev/null), 5
// admin socket, 6 the pipe to the supervisor.
const (
	fdHTTP = 3 + iota
	fdHTTPS
	fdAdmin
	fdReport
)

// BinDir is where setup puts the binaries a proxy upgrades to, on the
// state volume next to the state file; current names the one to run.
func BinDir(statePath string) string { return filepath.Join(filepath.Dir(statePath), "bin") }

// IsChild tells whether this process runs under the supervisor.
func IsChild() bool { return os.Getenv(envChild) == "1" }

// SuperviseOptions configure Supervise.
type SuperviseOptions struct {
	Options          // the proxy's; HTTPAddr, HTTPSAddr and SocketPath are opened here
	Self    string   // this executable: the binary run when no upgrade names another
	Args    []string // the child's arguments after the binary ("proxy", "run", flags)
	// Ready bounds how long a new binary may take to accept traffic.
	Ready time.Duration
}

// upgradeStatus is written to BinDir/upgrade.json after each upgrade.
type upgradeStatus = protocol.UpgradeStatus

// child is one proxy process.
type child struct {
	proc    *os.Process
	binary  string
	events  chan string // serving, admin, admin-closed, then exited (closed)
	state   *os.ProcessState
	err     error
	started time.Time
}

// Supervise runs the proxy until ctx is done (or SIGTERM), upgrading it on
// SIGHUP to the binary named in BinDir/next.
func Supervise(ctx context.Context, o SuperviseOptions) error {
	o.Options = o.Options.withDefaults()
	if o.Ready <= 0 {
		o.Ready = 20 * time.Second
	}
	log := o.Logger.With("supervisor", true)
	files, closeAll, err := openListeners(o.Options)
	if err != nil {
		return err
	}
	defer closeAll()
	sv := &supervisor{o: o, log: log, files: files, closeAll: closeAll}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return sv.loop(ctx, hup)
}

type supervisor struct {
	o        SuperviseOptions
	log      *slog.Logger
	files    []*os.File // HTTP, HTTPS (nil), admin
	closeAll func()     // closes the supervisor's own sockets
}

func (sv *supervisor) loop(ctx context.Context, hup <-chan os.Signal) error {
	cur, err := sv.start(sv.current(), false)
	if err != nil {
		return err
	}
	var old []*child // stopping: draining their requests
	crashes := 0
	for {
		select {
		case <-ctx.Done():
			// For good: let the sockets close as soon as the children
			// stop accepting, so new connections are refused at once
			// rather than wait in a backlog nobody will read.
			sv.closeAll()
			sv.stopAll(append(old, cur))
			return nil
		case <-hup:
			next, err := sv.upgrade(ctx, cur)
			if err != nil {
				sv.log.Error("upgrade failed, the running proxy keeps serving", "err", err)
				sv.writeStatus(upgradeStatus{Binary: nextBinary(sv.o.StatePath), Error: err.Error(), At: time.Now()})
				if next == nil { // cur still serves
					continue
				}
			} else {
				sv.writeStatus(upgradeStatus{Binary: next.binary, OK: true, At: time.Now()})
				host, _ := os.Hostname()
				os.WriteFile(filepath.Join(BinDir(sv.o.StatePath), "current"), []byte(host+"\n"+next.binary+"\n"), 0o600)
			}
			old = append(old, cur)
			cur = next
		case _, open := <-cur.events:
			if open {
				continue // events of a running child outside an upgrade
			}
			// The proxy died on its own: start it again at once; the
			// sockets stay open meanwhile, so clients wait, not fail.
			// Back off only from a crash loop (dying within a second
			// of its start): a proxy that ran is restarted at once.
			if time.Since(cur.started) > time.Second {
				crashes = 0
			}
			crashes++
			sv.log.Error("luma-proxy exited, restarting it", "binary", cur.binary, "err", cur.exitStatus())
			if crashes > 3 {
				time.Sleep(min(time.Duration(crashes)*time.Second, 10*time.Second))
			}
			if cur, err = sv.start(sv.current(), false); err != nil {
				sv.stopAll(old)
				return err
			}
		}
		old = reap(old)
	}
}

// upgrade starts the binary in BinDir/next beside cur and hands over:
// the new one accepts traffic, then cur stops taking admin calls, then
// the new one takes them. It returns the child that now serves: nil when
// cur still does (the new one failed before cur was asked to stop).
func (sv *supervisor) upgrade(ctx context.Context, cur *child) (*child, error) {
	binary := nextBinary(sv.o.StatePath)
	if err := checkBinary(sv.o.StatePath, binary); err != nil {
		return nil, err
	}
	sv.log.Info("upgrading", "from", cur.binary, "to", binary)
	next, err := sv.start(binary, true)
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(sv.o.Ready)
	defer deadline.Stop()
	if err := await(ctx, next, "serving", deadline.C); err != nil {
		sv.stop(next, true)
		return nil, fmt.Errorf("the new proxy did not start serving: %w", err)
	}
	// Both accept traffic now; cur stops taking it and admin calls. Two
	// processes must never take admin calls at once: one that does not
	// say it stopped is stopped, then killed.
	cur.proc.Signal(syscall.SIGUSR2)
	if err := awaitWithin(ctx, cur, "admin-closed", 8*time.Second); err != nil && !errors.Is(err, errExited) {
		sv.log.Warn("the old proxy did not say it stopped taking admin calls: stopping it", "err", err)
		cur.proc.Signal(syscall.SIGTERM)
		if err := awaitWithin(ctx, cur, "admin-closed", 3*time.Second); err != nil && !errors.Is(err, errExited) {
			cur.proc.Signal(syscall.SIGKILL)
		}
	}
	next.proc.Signal(syscall.SIGUSR1)
	if err := await(ctx, next, "admin", deadline.C); err != nil {
		// cur is stopping: serve with the binary it ran.
		sv.stop(next, true)
		restarted, rerr := sv.start(cur.binary, false)
		if rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		return restarted, fmt.Errorf("the new proxy did not take the admin socket (%w); restarted %s", err, cur.binary)
	}
	return next, nil
}

var errExited = errors.New("exited")

func awaitWithin(ctx context.Context, c *child, event string, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	return await(ctx, c, event, t.C)
}

// await waits for a child's event.
func await(ctx context.Context, c *child, event string, deadline <-chan time.Time) error {
	for {
		select {
		case ev, open := <-c.events:
			if !open {
				return fmt.Errorf("%w: %s", errExited, c.exitStatus())
			}
			if ev == event {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("no %q in time", event)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// start runs binary as a child on the supervisor's sockets. It forks
// with the raw descriptors: os/exec would put the shared sockets in
// blocking mode (File.Fd does), and a running child blocked in accept
// could then not close its listener.
func (sv *supervisor) start(binary string, handover bool) (*child, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	env := append(os.Environ(), envChild+"=1")
	if sv.files[1] != nil {
		env = append(env, envHTTPS+"=1")
	}
	if handover {
		env = append(env, envHandover+"=1")
	}
	fds := []uintptr{0, 1, 2}
	for _, f := range []*os.File{sv.files[0], sv.files[1], sv.files[2], w} {
		fd, err := rawFD(f)
		if err != nil {
			r.Close()
			return nil, err
		}
		fds = append(fds, fd)
	}
	pid, err := syscall.ForkExec(binary, append([]string{binary}, sv.o.Args...), &syscall.ProcAttr{Env: env, Files: fds})
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	proc, _ := os.FindProcess(pid)
	c := &child{proc: proc, binary: binary, events: make(chan string, 8), started: time.Now()}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			c.events <- strings.TrimSpace(sc.Text())
		}
		r.Close()
		c.state, c.err = proc.Wait()
		close(c.events)
	}()
	sv.log.Info("started luma-proxy", "binary", binary, "pid", pid, "handover", handover)
	return c, nil
}

// rawFD is f's descriptor, untouched (a missing file is /dev/null's
// place: descriptor numbers are positional).
func rawFD(f *os.File) (uintptr, error) {
	if f == nil {
		f = devNull
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd uintptr
	if err := rc.Control(func(d uintptr) { fd = d }); err != nil {
		return 0, err
	}
	return fd, nil
}

var devNull, _ = os.Open(os.DevNull)

// exitStatus describes how a child ended.
func (c *child) exitStatus() string {
	if c.err != nil {
		return c.err.Error()
	}
	return c.state.String()
}

// stop ends a child: SIGTERM (it drains), or SIGKILL when kill.
func (sv *supervisor) stop(c *child, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	c.proc.Signal(sig)
	for range c.events {
	}
}

func (sv *supervisor) stopAll(cs []*child) {
	for _, c := range cs {
		c.proc.Signal(syscall.SIGTERM)
	}
	for _, c := range cs {
		for range c.events {
		}
	}
}

// reap drops children that exited.
func reap(cs []*child) []*child {
	out := cs[:0]
	for _, c := range cs {
		select {
		case _, open := <-c.events:
			if !open {
				continue
			}
		default:
		}
		out = append(out, c)
	}
	return out
}

// current is the binary to run: the last upgrade's in this container
// (it survives a restart), else this one. A new container, made from a
// newer image than an upgrade in its volume, runs its own binary: the
// file names the host (the container) it was written in.
func (sv *supervisor) current() string {
	b, err := os.ReadFile(filepath.Join(BinDir(sv.o.StatePath), "current"))
	host, _ := os.Hostname()
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 && f[0] == host && checkBinary(sv.o.StatePath, f[1]) == nil {
		return f[1]
	}
	return sv.o.Self
}

func nextBinary(statePath string) string {
	b, _ := os.ReadFile(filepath.Join(BinDir(statePath), "next"))
	return strings.TrimSpace(string(b))
}

// checkBinary accepts an executable file in BinDir.
func checkBinary(statePath, path string) error {
	if path == "" || filepath.Dir(path) != BinDir(statePath) {
		return fmt.Errorf("binary %q is not in %s", path, BinDir(statePath))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

func (sv *supervisor) writeStatus(st upgradeStatus) {
	b, _ := json.Marshal(st)
	if err := writeFileAtomic(filepath.Join(BinDir(sv.o.StatePath), "upgrade.json"), b); err != nil {
		sv.log.Error("writing the upgrade status", "err", err)
	}
}

// readUpgradeStatus is the last upgrade's outcome, for the admin op.
func readUpgradeStatus(statePath string) (upgradeStatus, error) {
	var st upgradeStatus
	b, err := os.ReadFile(filepath.Join(BinDir(statePath), "upgrade.json"))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// openListeners opens the sockets children inherit: HTTP, HTTPS (nil
// without an address) and the admin socket.
func openListeners(o Options) ([]*os.File, func(), error) {
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
	}
	file := func(ln net.Listener) (*os.File, error) {
		switch l := ln.(type) {
		case *net.TCPListener:
			return l.File()
		case *net.UnixListener:
			return l.File()
		}
		return nil, fmt.Errorf("cannot pass a %T on", ln)
	}
	addrs := []struct{ network, addr, what string }{{"tcp", o.HTTPAddr, "traffic"}, {"tcp", o.HTTPSAddr, "HTTPS"}}
	var files []*os.File
	for _, a := range addrs {
		if a.addr == "" {
			lns, files = append(lns, nil), append(files, nil)
			continue
		}
		ln, err := net.Listen(a.network, a.addr)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("listening for %s: %w", a.what, err)
		}
		lns = append(lns, ln)
		f, err := file(ln)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
	}
	admin, err := listenAdmin(o.SocketPath)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	lns = append(lns, admin)
	f, err := file(admin)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	files = append(files, f)
	return files, func() {
		closeAll()
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}, nil
}

// ChildContext is done when the supervisor stops the child: SIGTERM (for
// good) or SIGUSR2 (for a successor, which h records).
func ChildContext(parent context.Context, h *Handover) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR2)
	go func() {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGUSR2 {
				h.Successor.Store(true)
			}
			cancel()
		case <-ctx.Done():
		}
		signal.Stop(sigs)
	}()
	return ctx, cancel
}

// ChildHandover is the Handover of a supervised child: the inherited
// sockets, and the supervisor's pipe and SIGUSR1.
func ChildHandover() (*Handover, error) {
	listener := func(fd int, name string) (net.Listener, error) {
		f := os.NewFile(uintptr(fd), name)
		defer f.Close()
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("inherited %s socket: %w", name, err)
		}
		return ln, nil
	}
	h := &Handover{}
	var err error
	if h.HTTP, err = listener(fdHTTP, "http"); err != nil {
		return nil, err
	}
	if os.Getenv(envHTTPS) == "1" {
		if h.HTTPS, err = listener(fdHTTPS, "https"); err != nil {
			return nil, err
		}
	}
	if h.Admin, err = listener(fdAdmin, "admin"); err != nil {
		return nil, err
	}
	report := os.NewFile(uintptr(fdReport), "supervisor")
	h.Report = func(event string) { fmt.Fprintln(report, event) }
	if os.Getenv(envHandover) == "1" {
		take := make(chan struct{})
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() { <-usr1; signal.Stop(usr1); close(take) }()
		h.TakeAdmin = take
	}
	return h, nil
}
