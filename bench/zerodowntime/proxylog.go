package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"
)

// logShape is a group of luma-proxy log lines that differ only in
// addresses, numbers and times, with how many there were and one example.
type logShape struct {
	Shape   string `json:"shape"`
	Count   int    `json:"count"`
	Example string `json:"example"`
}

var (
	stamp    = regexp.MustCompile(`^\S+Z\s+`) // docker logs -t
	stdFlags = regexp.MustCompile(`\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?\s*`)
	addr     = regexp.MustCompile(`(\[[0-9a-fA-F:]+\]|\d+\.\d+\.\d+\.\d+)(:\d+)?`)
	hexes    = regexp.MustCompile(`\b(0x)?[0-9a-f]{8,}\b`)
	numbers  = regexp.MustCompile(`\d+`)
	wanted   = regexp.MustCompile(`(?i)error|upstream|httputil`)
)

// proxyLog reads the lines luma-proxy logged between since and until that
// speak of errors or upstreams, grouped by shape, most frequent first.
// The container is on the engine the docker CLI talks to (DOCKER_HOST).
func proxyLog(container string, since, until time.Time) ([]logShape, error) {
	if container == "" {
		return nil, nil
	}
	out, err := exec.Command("docker", "logs", "-t",
		"--since", since.UTC().Format(time.RFC3339Nano),
		"--until", until.UTC().Format(time.RFC3339Nano), container).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("docker logs %s: %v: %s", container, err, strings.TrimSpace(string(out)))
	}
	return shapes(string(out)), nil
}

func shapes(logs string) []logShape {
	by := map[string]*logShape{}
	for _, line := range strings.Split(logs, "\n") {
		line = strings.TrimSpace(stamp.ReplaceAllString(line, ""))
		if line == "" || !wanted.MatchString(line) {
			continue
		}
		shape := stdFlags.ReplaceAllString(line, "")
		shape = addr.ReplaceAllString(shape, "ADDR")
		shape = hexes.ReplaceAllString(shape, "HEX")
		shape = numbers.ReplaceAllString(shape, "N")
		if s, ok := by[shape]; ok {
			s.Count++
			continue
		}
		by[shape] = &logShape{Shape: shape, Count: 1, Example: line}
	}
	var out []logShape
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Shape < out[j].Shape
	})
	return out
}
