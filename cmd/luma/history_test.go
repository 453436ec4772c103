package main

import (
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/history"
	"github.com/luma-deploy/luma/machine"
)

func TestPrintRuns(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	ev := func(rel, outcome, detail string, min int) drivers.Event {
		return drivers.Event{Kind: "deploy", Project: "shop", App: "web", Release: rel, Image: "web:" + rel,
			ImageID: "sha256:0123456789abcdef", Who: "alice@laptop", At: at.Add(time.Duration(min) * time.Minute),
			Duration: 2345 * time.Millisecond, Outcome: outcome, Detail: detail}
	}
	runs := history.Merge(map[string][]drivers.Event{
		"web1": {ev("r1", "deployed", "", 0), ev("r2", "rolled_back", "health check failed: GET /up returned 503\nmore", 5)},
		"web2": {ev("r1", "deployed", "", 0), ev("r2", "rolled_back", "", 5)},
	})
	var b strings.Builder
	if err := printRuns(&b, runs, false, map[string]string{"web1": "r1", "web2": "r1"}); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"2026-12-07 10:05:00  deploy  r2         rolled_back  2.3s  alice@laptop  web1,web2  web:r2 (0123456789ab)",
		"[web1] health check failed: GET /up returned 503 ...",
		"2026-12-07 10:00:00  deploy  r1 (live)  deployed     2.3s  alice@laptop  web1,web2  web:r1 (0123456789ab)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no line %q in\n%s", want, got)
		}
	}
}

func TestDescribeLock(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	l := drivers.Lock{Key: "shop/web", Holder: "bob@desk pid 7", Since: now.Add(-3 * time.Minute), Expires: now.Add(20 * time.Second), State: machine.HealthChecking}
	if got := describeLock(l, now); got != "web: held by bob@desk pid 7 since 09:57:00 (3m0s ago), deploy state health_checking, lease renewed until 10:00:20 (in 20s)" {
		t.Fatal(got)
	}
	l.Expires = now.Add(-time.Minute)
	if got := describeLock(l, now); !strings.HasSuffix(got, "lease expired 1m0s ago: the holder stopped renewing it (died?); the next deploy takes it over") {
		t.Fatal(got)
	}
}
