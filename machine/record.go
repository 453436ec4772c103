package machine

import (
	"context"
	"time"
)

// Record is what the store keeps of one (app, server) deployment: enough for
// `luma status` to report it and for a later run to resume it.
type Record struct {
	Project   string    `json:"project"`
	App       string    `json:"app"`
	Server    string    `json:"server"`
	State     State     `json:"state"`
	Release   string    `json:"release,omitempty"`    // release being deployed (or last deployed when idle)
	Previous  string    `json:"previous,omitempty"`   // release that served before this deploy
	FromColor string    `json:"from_color,omitempty"` // active color before the deploy; "" on the first
	ToColor   string    `json:"to_color,omitempty"`   // color being deployed
	Active    string    `json:"active,omitempty"`     // color the proxy serves now
	Old       []string  `json:"old,omitempty"`        // container names of the set being replaced
	New       []string  `json:"new,omitempty"`        // container names of the set being deployed
	Holder    string    `json:"holder,omitempty"`     // who runs it: user@host pid
	StartedAt time.Time `json:"started_at,omitempty"`
	UpdatedAt time.Time `json:"updated_at,omitempty"`
	Error     string    `json:"error,omitempty"`   // why the last run stopped or rolled back
	Outcome   string    `json:"outcome,omitempty"` // deployed, rolled_back, or "" while running
	// Timings holds how long each state took in the last run, for
	// `luma status --json` and the benchmarks.
	Timings map[State]time.Duration `json:"timings,omitempty"`
}

// Persister saves the record each time the machine enters a state, before
// any work of that state is done.
type Persister interface {
	Save(ctx context.Context, r Record) error
}
