package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/luma-deploy/luma/steps"
)

// printDeploySummary ends a deploy with one line per server: how it ended there
// and how long its deploy took, so the outcome of a parallel run does not
// have to be pieced together from interleaved progress lines.
func printDeploySummary(out *printer, app, rel string, wall time.Duration, res steps.Result) {
	out.Println("Summary of %s %s (%s):", app, rel, wall.Round(10*time.Millisecond))
	for _, s := range res.Servers {
		out.Printf(s.Server, "%s", serverSummary(s))
	}
}

func serverSummary(s steps.ServerResult) string {
	var d time.Duration
	for _, t := range s.Timings {
		d += t
	}
	took := " in " + d.Round(10*time.Millisecond).String()
	if d == 0 {
		took = " before anything changed"
	}
	var line string
	switch s.Outcome {
	case steps.Deployed:
		line = "deployed" + took
	case steps.RolledBack:
		line = "rolled back" + took + ", the old version serves"
	case steps.Interrupted:
		line = "interrupted, rolled back" + took
	case steps.FailedAfterSwitch:
		line = "stopped after the switch" + took + ", the new version serves; run the deploy again to finish"
	case steps.Failed:
		line = "failed" + took
	default:
		line = "not finished" + took
	}
	if s.Recovered != "" {
		line += fmt.Sprintf(" (recovered a dead run left in %s first)", s.Recovered)
	}
	if s.Err != nil && s.Outcome != steps.Deployed {
		line += ": " + firstLine(s.Err.Error())
	}
	if s.Outcome == steps.Deployed {
		line += " ✓"
	}
	return line
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
