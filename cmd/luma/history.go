package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/history"
)

// readEvents reads the project's audit log on every connected server at
// once.
func readEvents(ctx context.Context, f *fleet.Fleet, project string) (map[string][]drivers.Event, error) {
	var mu sync.Mutex
	out := map[string][]drivers.Event{}
	err := f.Each(func(s *fleet.Server) error {
		ev, err := s.Proxy.Events(ctx, project)
		if err != nil {
			return fmt.Errorf("read the history: %w", err)
		}
		mu.Lock()
		out[s.Name] = ev
		mu.Unlock()
		return nil
	})
	return out, err
}

// printRuns writes runs as a table, newest first, with the first line of
// each server's failure under its run; live marks the release each server
// serves now (nil: not shown).
func printRuns(w io.Writer, runs []history.Run, withApp bool, live map[string]string) error {
	live = maps.Clone(live) // servesLive takes each server's entry once
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	head := "WHEN\tKIND\tRELEASE\tOUTCOME\tTOOK\tWHO\tSERVERS\tIMAGE"
	if withApp {
		head = "WHEN\tAPP\tKIND\tRELEASE\tOUTCOME\tTOOK\tWHO\tSERVERS\tIMAGE"
	}
	fmt.Fprintln(tw, head)
	for _, r := range runs {
		cols := []string{r.At.Local().Format("2006-01-02 15:04:05")}
		if withApp {
			cols = append(cols, orDash(r.App))
		}
		rel := orDash(r.Release)
		if live != nil && r.Release != "" && servesLive(live, r) {
			rel += " (live)"
		}
		cols = append(cols, r.Kind, rel, r.Outcome, took(r.Duration), r.Who, runServers(r), imageOf(r))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Details go between the aligned rows: inside the tabwriter, a line
	// of fewer cells would break the columns.
	rows := strings.SplitAfter(table.String(), "\n")
	var b strings.Builder
	b.WriteString(rows[0])
	for i, r := range runs {
		b.WriteString(rows[i+1])
		for _, s := range r.Servers {
			if s.Detail != "" {
				fmt.Fprintf(&b, "    [%s] %s\n", s.Server, firstLine(s.Detail))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// servesLive tells whether r is the newest run of the release a server
// serves now, so only one row per release says live.
func servesLive(live map[string]string, r history.Run) bool {
	if !r.Deployed() {
		return false
	}
	for _, s := range r.Servers {
		if live[s.Server] == r.Release {
			delete(live, s.Server) // runs come newest first
			return true
		}
	}
	return false
}

func runServers(r history.Run) string {
	names := make([]string, len(r.Servers))
	for i, s := range r.Servers {
		names[i] = s.Server
		if r.Outcome == "mixed" {
			names[i] += "=" + s.Outcome
		}
	}
	return strings.Join(names, ",")
}

// imageOf is the run's image with its short ID, as docker shows IDs.
func imageOf(r history.Run) string {
	for _, s := range r.Servers {
		if s.Image == "" {
			continue
		}
		if id := strings.TrimPrefix(s.ImageID, "sha256:"); len(id) >= 12 {
			return s.Image + " (" + id[:12] + ")"
		}
		return s.Image
	}
	return "-"
}

func took(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(100 * time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
