package drivers

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Kinds of audit events.
const (
	EventDeploy      = "deploy"
	EventRollback    = "rollback" // `luma rollback`: a deploy of an earlier release
	EventRemove      = "remove"
	EventSetup       = "setup"
	EventLockRelease = "lock_release" // `luma lock release --force`
)

// HistoryLimit is how many events luma-proxy keeps per app (and per
// project for events of no app, such as setup): the oldest go first.
const HistoryLimit = 50

// Event is one entry of a server's audit log, kept by luma-proxy: what
// was done to a project or app, by whom, when, and how it ended.
type Event struct {
	Kind    string `json:"kind"`
	Project string `json:"project"`
	App     string `json:"app,omitempty"` // "" for events of the whole project
	// Release is what a deploy or rollback put live (or tried to), and
	// Previous what served before it.
	Release  string `json:"release,omitempty"`
	Previous string `json:"previous,omitempty"`
	// Image is the image's name and ImageID its content ID on the
	// server: a rollback runs that ID when the server still holds it,
	// even if the name now points elsewhere.
	Image    string        `json:"image,omitempty"`
	ImageID  string        `json:"image_id,omitempty"`
	Who      string        `json:"who"` // user@host
	At       time.Time     `json:"at"`  // when it started
	Duration time.Duration `json:"duration,omitempty"`
	// Outcome is how it ended: for a deploy or rollback the run's outcome
	// (deployed, rolled_back, ...), else ok or failed.
	Outcome string `json:"outcome"`
	// Detail says more: the error of a failed run, what a setup did, the
	// lock a release took away. Never a secret.
	Detail string `json:"detail,omitempty"`
}

// Who is holder (user@host pid N) without its pid: the person, not the
// process.
func Who(holder string) string {
	if i := strings.Index(holder, " pid "); i >= 0 {
		return holder[:i]
	}
	return holder
}

// Audit is a server's audit log.
type Audit interface {
	// AppendEvent adds e to the log, dropping the oldest of its app (or
	// project) past HistoryLimit.
	AppendEvent(ctx context.Context, e Event) error
	// Events is the log of project, oldest first.
	Events(ctx context.Context, project string) ([]Event, error)
}

// TrimHistory drops from events the oldest of e's app (or of its
// project's events of no app) past HistoryLimit, so one busy app never
// pushes another's history out.
func TrimHistory(events []Event, e Event) []Event {
	same := func(o Event) bool { return o.Project == e.Project && o.App == e.App }
	n := 0
	for _, o := range events {
		if same(o) {
			n++
		}
	}
	for i := 0; n > HistoryLimit && i < len(events); {
		if same(events[i]) {
			events = slices.Delete(events, i, i+1)
			n--
			continue
		}
		i++
	}
	return events
}
