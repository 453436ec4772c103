package history

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/luma-deploy/luma/drivers"
)

// Release is a release an app served, as its last successful run left it.
type Release struct {
	Release string `json:"release"`
	Run     Run    `json:"run"` // the newest run that put it live
}

// Known lists the releases that went live for app, newest first by the
// run that last put each live.
func Known(runs []Run, app string) []Release {
	var out []Release
	seen := map[string]bool{}
	for _, r := range ForApp(runs, app) { // newest first
		if r.Deployed() && r.Release != "" && !seen[r.Release] {
			seen[r.Release] = true
			out = append(out, Release{Release: r.Release, Run: r})
		}
	}
	return out
}

// ErrUnknownRelease is a --to release that never went live.
var ErrUnknownRelease = errors.New("unknown release")

// Timeline is the releases that served app one after another, oldest
// first, with every rollback undoing back to its release: deploys of r1,
// r2, r3 and a rollback to r2 leave [r1 r2]; a removal of the app empties
// it. A rollback without --to goes to the one before the last, so rolling
// back twice walks back twice.
func Timeline(runs []Run, app string) []string {
	var stack []string
	mine := ForApp(runs, app)
	for i := len(mine) - 1; i >= 0; i-- { // oldest first
		r := mine[i]
		if r.Kind == drivers.EventRemove && r.Outcome == "ok" {
			stack = nil // removed: what served before is no longer a way back
			continue
		}
		if !r.Deployed() || r.Release == "" {
			continue
		}
		switch {
		case r.Kind == drivers.EventRollback && slices.Contains(stack, r.Release):
			stack = stack[:slices.Index(stack, r.Release)+1]
		case len(stack) == 0 || stack[len(stack)-1] != r.Release:
			stack = append(stack, r.Release)
		}
	}
	return stack
}

// Target picks the release a rollback of app goes to: to when given (it
// must have gone live before), else the release before current on the
// timeline. current is the release the servers serve now.
func Target(runs []Run, app, current, to string) (Release, error) {
	known := Known(runs, app)
	find := func(rel string) (Release, bool) {
		i := slices.IndexFunc(known, func(k Release) bool { return k.Release == rel })
		if i < 0 {
			return Release{}, false
		}
		return known[i], true
	}
	if to != "" {
		if to == current {
			return Release{}, fmt.Errorf("%s already serves %s: nothing to roll back", app, to)
		}
		if k, ok := find(to); ok {
			return k, nil
		}
		return Release{}, fmt.Errorf("%w: release %s of %s is unknown: known releases are %s", ErrUnknownRelease, to, app, list(known))
	}
	line := Timeline(runs, app)
	if n := len(line); n > 0 && line[n-1] == current {
		line = line[:n-1]
	}
	for i := len(line) - 1; i >= 0; i-- {
		if line[i] == current {
			continue
		}
		if k, ok := find(line[i]); ok {
			return k, nil
		}
	}
	return Release{}, fmt.Errorf("%s has no release before %s to roll back to (known releases: %s)", app, current, list(known))
}

func list(known []Release) string {
	if len(known) == 0 {
		return "none"
	}
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = k.Release
	}
	return strings.Join(names, ", ")
}
