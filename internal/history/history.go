// Package history reads the audit logs luma-proxy keeps on each server
// into one story: the runs of `luma deploy`, `rollback`, `remove`, `setup`
// and `lock release` across servers, and which releases an app can go
// back to.
package history

import (
	"maps"
	"slices"
	"time"

	"github.com/luma-deploy/luma/drivers"
)

// Run is one command's events across servers: a deploy of several
// servers is one run with an event per server.
type Run struct {
	Kind     string        `json:"kind"`
	App      string        `json:"app,omitempty"`
	Release  string        `json:"release,omitempty"`
	Previous string        `json:"previous,omitempty"`
	Who      string        `json:"who"`
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"duration"` // the longest server's
	Outcome  string        `json:"outcome"`  // the servers' when they agree, else "mixed"
	Servers  []Server      `json:"servers"`
}

// Server is one server's part of a run.
type Server struct {
	Server   string        `json:"server"`
	Outcome  string        `json:"outcome"`
	Image    string        `json:"image,omitempty"`
	ImageID  string        `json:"image_id,omitempty"`
	Duration time.Duration `json:"duration"`
	Detail   string        `json:"detail,omitempty"`
}

// Merge groups the servers' events into runs, newest first. Events of one
// run share their kind, app, release, who and start time: a run stamps
// every server's event with the moment it started.
func Merge(byServer map[string][]drivers.Event) []Run {
	type key struct {
		kind, app, release, who string
		at                      time.Time
	}
	index := map[key]int{}
	var runs []Run
	for _, name := range slices.Sorted(maps.Keys(byServer)) {
		for _, e := range byServer[name] {
			k := key{e.Kind, e.App, e.Release, e.Who, e.At.UTC()}
			i, ok := index[k]
			if !ok {
				i = len(runs)
				index[k] = i
				runs = append(runs, Run{Kind: e.Kind, App: e.App, Release: e.Release, Previous: e.Previous, Who: e.Who, At: e.At})
			}
			r := &runs[i]
			r.Servers = append(r.Servers, Server{Server: name, Outcome: e.Outcome, Image: e.Image, ImageID: e.ImageID, Duration: e.Duration, Detail: e.Detail})
			r.Duration = max(r.Duration, e.Duration)
		}
	}
	for i := range runs {
		runs[i].Outcome = outcome(runs[i].Servers)
	}
	slices.SortStableFunc(runs, func(a, b Run) int { return b.At.Compare(a.At) })
	return runs
}

// outcome is the servers' common outcome, or "mixed".
func outcome(servers []Server) string {
	out := servers[0].Outcome
	for _, s := range servers[1:] {
		if s.Outcome != out {
			return "mixed"
		}
	}
	return out
}

// ForApp keeps the runs of app.
func ForApp(runs []Run, app string) []Run {
	var out []Run
	for _, r := range runs {
		if r.App == app {
			out = append(out, r)
		}
	}
	return out
}

// Deployed tells whether r put its release live on every server it ran on.
func (r Run) Deployed() bool {
	return (r.Kind == drivers.EventDeploy || r.Kind == drivers.EventRollback) && r.Outcome == "deployed"
}
