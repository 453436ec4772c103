package fake

import (
	"context"
	"strings"
)

// Fault makes calls of one operation fail, hang or run a hook.
//
//	h.Inject(fake.Fault{Op: "Start", Nth: 2})                       // second Start fails
//	h.Inject(fake.Fault{Op: "Save", Match: "switching"})            // every save of a switching record fails
//	h.Inject(fake.Fault{Op: "Probe", Nth: 1, Hang: true, Do: stop}) // Ctrl-C during the first probe
//	h.Inject(fake.Fault{Op: "Drain", Pass: true, Do: stop})         // Ctrl-C while draining
type Fault struct {
	// Op is the method name: "Create", "Start", "Stop", "Remove", "Inspect",
	// "List", "EnsureNetwork", "Connect", "Disconnect", "HasImage",
	// "SaveImage", "SaveImageFor", "LayerChains", "LoadImage", "PullImage", "PushImage", "CheckImage", "Probe", "SetRoute", "Drain", "RemoveRoute",
	// "Routes", "Lock", "Renew", "Unlock", "Save", "Load", ...
	Op string
	// Nth is the matching call that faults, from 1; 0 means every one.
	Nth int
	// Match limits the fault to calls about one subject: a container name
	// (a Probe's target matches by its container), a network, an image, an
	// app (project/app) for routes, a lock key, or for Save the state of
	// the record saved. Empty matches every call.
	Match string
	// Err is returned; ErrInjected when nil.
	Err error
	// Hang blocks the call until its context is done and returns ctx.Err().
	Hang bool
	// Do runs when the fault fires, before the call fails or hangs: e.g.
	// cancel the deploy's context, or Clone the host.
	Do func()
	// Pass lets the call proceed as normal after Do: a hook, not a fault.
	Pass bool
}

type fault struct {
	Fault
	seen int // matching calls so far
}

// Inject adds faults; the first one that matches a call decides it.
func (h *Host) Inject(faults ...Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range faults {
		h.faults = append(h.faults, &fault{Fault: f})
	}
}

// matches counts a matching call and tells whether this one faults. The
// host's lock is held.
func (f *fault) matches(op, subject string) bool {
	if f.Op != op || !matchSubject(f.Match, subject) {
		return false
	}
	f.seen++
	return f.Nth == 0 || f.seen == f.Nth
}

func matchSubject(match, subject string) bool {
	if match == "" || match == subject {
		return true
	}
	name, _, ok := strings.Cut(subject, ":") // a probe target: container:port
	return ok && name == match
}

func (f *fault) fire(ctx context.Context) error {
	if f.Do != nil {
		f.Do()
	}
	switch {
	case f.Pass:
		return nil
	case f.Hang:
		<-ctx.Done()
		return ctx.Err()
	case f.Err != nil:
		return f.Err
	}
	return ErrInjected
}

// Behavior is how the app in matching containers behaves once started.
// Containers without one answer every probe with 200 and never crash.
type Behavior struct {
	// Match is a container name or an image ref.
	Match string
	// HealthyAfter probes fail before the first one that passes.
	HealthyAfter int
	// NeverHealthy: no probe passes.
	NeverHealthy bool
	// FailStatus answers a failing probe; 0 means no response at all, as
	// when the app does not listen or the probe times out.
	FailStatus int
	// CrashOnStart is the state the container falls into when started:
	// "exited" (its process died) or "restarting" (a restart loop).
	CrashOnStart string
	// CrashAfterHealthy > 0: the container exits after answering that many
	// healthy probes.
	CrashAfterHealthy int
	// ExitCode of a crash.
	ExitCode int
	// Exec answers commands exec'd in the container (Exec, ExecStream);
	// without it every command succeeds with no output.
	Exec ExecFunc
	// Attached runs commands attached to the caller's streams: exec'd
	// (Attach) or a one-off's (RunOnce, matched by its image). Without
	// it they run through Exec (sessions.go).
	Attached ProcessFunc
	// Run, when set, is what a container created with a Cmd runs at
	// Start, to its end: its stdout and stderr go to the container's log
	// and it exits with the code. Without a Cmd the container runs, as the
	// image's default command would, until stopped.
	Run ExecFunc
}

// ExecFunc is what a command exec'd in a container does: its stdout, its
// stderr and its exit code.
type ExecFunc func(cmd []string, stdin []byte) (stdout, stderr []byte, code int)

// Behave declares behaviours; the first that matches a container applies.
func (h *Host) Behave(b ...Behavior) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.behaviors = append(h.behaviors, b...)
}

// behavior returns the behaviour of c. The host's lock is held.
func (h *Host) behavior(c *container) Behavior {
	for _, b := range h.behaviors {
		if b.Match == c.Name || b.Match == c.Image {
			return b
		}
	}
	return Behavior{}
}
