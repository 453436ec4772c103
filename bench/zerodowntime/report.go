package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// deployRun is one `luma deploy` during the load.
type deployRun struct {
	N       int                `json:"n"`
	Image   string             `json:"image"`
	Start   time.Time          `json:"start"`
	End     time.Time          `json:"end"`
	Seconds float64            `json:"seconds"`
	States  map[string]float64 `json:"states,omitempty"` // seconds per machine state
	Error   string             `json:"error,omitempty"`
}

// summary is what a load phase saw.
type summary struct {
	Sent         int            `json:"sent"`
	OK           int            `json:"ok"`
	Failed       int            `json:"failed"`
	Failures     map[string]int `json:"failures,omitempty"` // by kind: status code, connection error, timeout
	ByKind       map[kind]int   `json:"by_kind"`
	SlowOK       int            `json:"slow_ok"`
	SlowSent     int            `json:"slow_sent"`
	Versions     map[string]int `json:"versions,omitempty"`
	P50          float64        `json:"p50_ms"`
	P99          float64        `json:"p99_ms"`
	Max          float64        `json:"max_ms"`
	NearP50      float64        `json:"near_switch_p50_ms,omitempty"`
	NearP99      float64        `json:"near_switch_p99_ms,omitempty"`
	NearMax      float64        `json:"near_switch_max_ms,omitempty"`
	NearSwitchN  int            `json:"near_switch_requests,omitempty"`
	AchievedRate float64        `json:"achieved_rate"`
}

type report struct {
	Options        string      `json:"options"`
	Baseline       *summary    `json:"baseline,omitempty"`
	Load           summary     `json:"load"`
	Deploys        []deployRun `json:"deploys"`
	DeployFailures int         `json:"deploy_failures"`
}

// summarize counts samples; "near a switch" is within one second of the
// end of a deploy's Switching, approximated by the deploy's window.
func summarize(samples []sample, deploys []deployRun) summary {
	s := summary{Failures: map[string]int{}, ByKind: map[kind]int{}, Versions: map[string]int{}}
	var all, near []time.Duration
	var first, last time.Time
	for _, x := range samples {
		s.Sent++
		s.ByKind[x.kind]++
		if first.IsZero() || x.due.Before(first) {
			first = x.due
		}
		if x.due.After(last) {
			last = x.due
		}
		if x.kind == slow {
			s.SlowSent++
		}
		if x.failure != "" {
			s.Failed++
			s.Failures[string(x.kind)+": "+x.failure]++
			continue
		}
		s.OK++
		if x.kind == slow {
			s.SlowOK++
		}
		if x.version != "" {
			s.Versions[x.version]++
		}
		if x.kind == slow {
			continue // its latency is its sleep
		}
		all = append(all, x.latency)
		if nearSwitch(x.due, deploys) {
			near = append(near, x.latency)
		}
	}
	s.P50, s.P99, s.Max = pct(all, 0.5), pct(all, 0.99), pct(all, 1)
	s.NearP50, s.NearP99, s.NearMax, s.NearSwitchN = pct(near, 0.5), pct(near, 0.99), pct(near, 1), len(near)
	if d := last.Sub(first).Seconds(); d > 0 {
		s.AchievedRate = float64(s.Sent) / d
	}
	return s
}

// nearSwitch tells whether t is within one second of a deploy's switch,
// which happens between its health checks and its drain: the window from
// one second before the deploy's end minus its drain+clean time.
func nearSwitch(t time.Time, deploys []deployRun) bool {
	for _, d := range deploys {
		after := time.Duration((d.States["draining"] + d.States["cleaning"]) * float64(time.Second))
		sw := d.End.Add(-after)
		if t.After(sw.Add(-time.Second)) && t.Before(sw.Add(time.Second)) {
			return true
		}
	}
	return false
}

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p)
	return float64(d[i].Microseconds()) / 1000
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "zero-downtime benchmark: %s\n", r.Options)
	if r.Baseline != nil {
		fmt.Fprintf(w, "\nbaseline (no deploys):\n")
		r.Baseline.print(w)
	}
	fmt.Fprintf(w, "\nunder %d deploys:\n", len(r.Deploys))
	r.Load.print(w)
	fmt.Fprintf(w, "\ndeploys (seconds):\n")
	var total float64
	for _, d := range r.Deploys {
		total += d.Seconds
		line := fmt.Sprintf("  #%-3d %-28s %6.2fs", d.N, d.Image, d.Seconds)
		for _, st := range []string{"creating", "health_checking", "switching", "draining", "cleaning"} {
			line += fmt.Sprintf("  %s %.2f", st, d.States[st])
		}
		if d.Error != "" {
			line += "  ERROR " + strings.SplitN(d.Error, "\n", 2)[0]
		}
		fmt.Fprintln(w, line)
	}
	if n := len(r.Deploys); n > 0 {
		fmt.Fprintf(w, "  mean %.2fs over %d deploys, %d failed\n", total/float64(n), n, r.DeployFailures)
	}
}

func (s summary) print(w io.Writer) {
	fmt.Fprintf(w, "  sent %d (%.0f/s), ok %d, failed %d; slow requests %d/%d completed\n", s.Sent, s.AchievedRate, s.OK, s.Failed, s.SlowOK, s.SlowSent)
	keys := make([]string, 0, len(s.Failures))
	for k := range s.Failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "    failure %-40s %d\n", k, s.Failures[k])
	}
	fmt.Fprintf(w, "  latency p50 %.1fms p99 %.1fms max %.1fms\n", s.P50, s.P99, s.Max)
	if s.NearSwitchN > 0 {
		fmt.Fprintf(w, "  within 1s of a switch (%d requests): p50 %.1fms p99 %.1fms max %.1fms\n", s.NearSwitchN, s.NearP50, s.NearP99, s.NearMax)
	}
	fmt.Fprintf(w, "  versions answered: %v\n", s.Versions)
}
