package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/luma-deploy/luma/machine"
	"github.com/luma-deploy/luma/steps"
)

// deployReport is `luma deploy --json`: what happened on each server, for
// scripts. Its exit_code is the process's.
type deployReport struct {
	Project  string            `json:"project"`
	Release  string            `json:"release"`
	OK       bool              `json:"ok"`
	ExitCode int               `json:"exit_code"`
	Error    string            `json:"error,omitempty"`
	Apps     []deployAppReport `json:"apps"`
}

type deployAppReport struct {
	App     string               `json:"app"`
	Seconds float64              `json:"seconds"`
	Servers []deployServerReport `json:"servers"`
}

type deployServerReport struct {
	Server    string                    `json:"server"`
	Outcome   steps.Outcome             `json:"outcome"`
	State     machine.State             `json:"state"`
	Active    string                    `json:"active,omitempty"`
	Release   string                    `json:"release,omitempty"`
	Recovered machine.State             `json:"recovered,omitempty"`
	Error     string                    `json:"error,omitempty"`
	Timings   map[machine.State]float64 `json:"timings_seconds,omitempty"`
}

func (r *deployReport) add(app string, wall time.Duration, res steps.Result) {
	a := deployAppReport{App: app, Seconds: wall.Seconds(), Servers: []deployServerReport{}}
	for _, s := range res.Servers {
		sr := deployServerReport{
			Server: s.Server, Outcome: s.Outcome, State: s.Record.State, Active: s.Record.Active,
			Release: s.Record.Release, Recovered: s.Recovered, Timings: map[machine.State]float64{},
		}
		if s.Err != nil {
			sr.Error = s.Err.Error()
		}
		for st, d := range s.Timings {
			sr.Timings[st] = d.Seconds()
		}
		a.Servers = append(a.Servers, sr)
	}
	r.Apps = append(r.Apps, a)
}

func (r *deployReport) finish(code int, err error) {
	r.OK, r.ExitCode = err == nil, code
	if err != nil {
		r.Error = err.Error()
	}
	if r.Apps == nil {
		r.Apps = []deployAppReport{}
	}
}

func (r *deployReport) write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
