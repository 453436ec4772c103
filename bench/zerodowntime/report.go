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
	Start        time.Time            `json:"start"`
	End          time.Time            `json:"end"`
	Sent         int                  `json:"sent"`
	OK           int                  `json:"ok"`
	Failed       int                  `json:"failed"`
	Failures     map[string]int       `json:"failures,omitempty"` // "kind: error" (status, truncated body, echo mismatch, reset, EOF, timeout...)
	ByKind       map[kind]int         `json:"by_kind"`
	Kinds        map[kind]*kindResult `json:"kinds"`
	SlowOK       int                  `json:"slow_ok"`
	SlowSent     int                  `json:"slow_sent"`
	Versions     map[string]int       `json:"versions,omitempty"`
	P50          float64              `json:"p50_ms"`
	P99          float64              `json:"p99_ms"`
	Max          float64              `json:"max_ms"`
	NearP50      float64              `json:"near_switch_p50_ms,omitempty"`
	NearP99      float64              `json:"near_switch_p99_ms,omitempty"`
	NearMax      float64              `json:"near_switch_max_ms,omitempty"`
	NearSwitchN  int                  `json:"near_switch_requests,omitempty"`
	AchievedRate float64              `json:"achieved_rate"`
	ProxyLog     []logShape           `json:"proxy_log,omitempty"` // luma-proxy's error/upstream lines in [Start, End]
	ProxyLogErr  string               `json:"proxy_log_error,omitempty"`
}

// kindResult is one kind of request in a phase.
type kindResult struct {
	Sent     int            `json:"sent"`
	Failed   int            `json:"failed"`
	Failures map[string]int `json:"failures,omitempty"`
	P50      float64        `json:"p50_ms"`
	P99      float64        `json:"p99_ms"`
	Max      float64        `json:"max_ms"`
	lat      []time.Duration
}

type report struct {
	Options        string      `json:"options"`
	Baseline       *summary    `json:"baseline,omitempty"`
	Bursts         *summary    `json:"bursts,omitempty"`
	Load           *summary    `json:"load,omitempty"`
	Deploys        []deployRun `json:"deploys"`
	DeployFailures int         `json:"deploy_failures"`
}

// failed counts failed requests over every phase.
func (r *report) failed() int {
	n := 0
	for _, s := range []*summary{r.Baseline, r.Bursts, r.Load} {
		if s != nil {
			n += s.Failed
		}
	}
	return n
}

// summarize counts samples; "near a switch" is within one second of the
// end of a deploy's Switching, approximated by the deploy's window.
func summarize(samples []sample, deploys []deployRun) summary {
	s := summary{Failures: map[string]int{}, ByKind: map[kind]int{}, Kinds: map[kind]*kindResult{}, Versions: map[string]int{}}
	var all, near []time.Duration
	var first, last time.Time
	for _, x := range samples {
		s.Sent++
		s.ByKind[x.kind]++
		k := s.Kinds[x.kind]
		if k == nil {
			k = &kindResult{Failures: map[string]int{}}
			s.Kinds[x.kind] = k
		}
		k.Sent++
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
			k.Failed++
			k.Failures[x.failure]++
			continue
		}
		s.OK++
		k.lat = append(k.lat, x.latency)
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
	for _, k := range s.Kinds {
		k.P50, k.P99, k.Max = pct(k.lat, 0.5), pct(k.lat, 0.99), pct(k.lat, 1)
	}
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
	if r.Bursts != nil {
		fmt.Fprintf(w, "\nbursts separated by idle gaps about the app's keep-alive (no deploys):\n")
		r.Bursts.print(w)
	}
	if r.Load == nil {
		return
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
	fmt.Fprintf(w, "  latency p50 %.1fms p99 %.1fms max %.1fms\n", s.P50, s.P99, s.Max)
	if s.NearSwitchN > 0 {
		fmt.Fprintf(w, "  within 1s of a switch (%d requests): p50 %.1fms p99 %.1fms max %.1fms\n", s.NearSwitchN, s.NearP50, s.NearP99, s.NearMax)
	}
	if len(s.Versions) > 0 {
		fmt.Fprintf(w, "  versions answered: %v\n", s.Versions)
	}
	kinds := make([]kind, 0, len(s.Kinds))
	for k := range s.Kinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	fmt.Fprintf(w, "  %-22s %7s %7s %9s %9s %9s\n", "kind", "sent", "failed", "p50 ms", "p99 ms", "max ms")
	for _, k := range kinds {
		r := s.Kinds[k]
		fmt.Fprintf(w, "  %-22s %7d %7d %9.1f %9.1f %9.1f\n", k, r.Sent, r.Failed, r.P50, r.P99, r.Max)
	}
	if s.Failed > 0 {
		fmt.Fprintf(w, "  failures by kind of request and error:\n")
		keys := make([]string, 0, len(s.Failures))
		for k := range s.Failures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "    %-52s %d\n", k, s.Failures[k])
		}
	}
	switch {
	case s.ProxyLogErr != "":
		fmt.Fprintf(w, "  luma-proxy log: %s\n", s.ProxyLogErr)
	case len(s.ProxyLog) == 0:
		fmt.Fprintf(w, "  luma-proxy log: no error/upstream lines in this phase\n")
	default:
		n := 0
		for _, l := range s.ProxyLog {
			n += l.Count
		}
		fmt.Fprintf(w, "  luma-proxy log, %d error/upstream lines in this phase, by shape:\n", n)
		for _, l := range s.ProxyLog {
			fmt.Fprintf(w, "    %6d  %s\n", l.Count, l.Shape)
			fmt.Fprintf(w, "            e.g. %s\n", l.Example)
		}
	}
}
