package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// load reads the server's deploy record and positions the machine at its
// state: Idle, or where a dead run stopped.
func (r *run) load(ctx context.Context) error {
	rec, err := r.srv.Proxy.Load(ctx, r.app.Project, r.app.Name)
	if errors.Is(err, drivers.ErrNotFound) {
		rec, err = machine.Record{Project: r.app.Project, App: r.app.Name, Server: r.srv.Name}, nil
	}
	if err != nil {
		return fmt.Errorf("load deploy record: %w", err)
	}
	r.m, r.loaded = machine.NewAt(rec, r.srv.Proxy, r.opts.Now), rec
	return nil
}

// plan is the work of Idle: find the active color, the old set and the new
// one; deploy saves that plan with Creating.
func (r *run) plan(ctx context.Context) (func(*machine.Record), error) {
	all, err := r.srv.Engine.List(ctx, map[string]string{naming.LabelApp: r.app.Name})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	byColor := map[string][]drivers.Container{}
	var legacy []string
	for _, c := range all {
		if p, ok := c.Labels[naming.LabelProject]; ok && p != r.app.Project {
			continue // another project's app of the same name
		}
		switch color := c.Labels[naming.LabelColor]; color {
		case naming.Blue, naming.Green:
			byColor[color] = append(byColor[color], c)
		case "":
			legacy = append(legacy, c.Name) // from before blue-green: part of the old set
		}
	}
	rec := r.m.Record()
	from, err := r.activeColor(ctx, rec, byColor)
	if err != nil {
		return nil, err
	}
	to := naming.Blue
	if from != "" {
		to = naming.Other(from)
	} else if c := peersColor(r.peers); c != "" {
		to = naming.Other(c) // a new server joins the others' color
	}
	old := append(names(byColor[from]), legacy...)
	r.leftovers = names(byColor[to])
	r.oldVolumes = nil
	if cs := byColor[from]; len(cs) > 0 {
		r.oldVolumes = cs[0].Volumes
	}
	newSet := r.app.ContainerNames(to)
	previous := ""
	if cs := byColor[from]; len(cs) > 0 {
		previous = cs[0].Labels[naming.LabelRelease]
	} else if rec.Active != "" {
		previous = rec.Release
	}

	r.say("Deploying %s (%s)...", r.app.Name, plural(r.app.Replicas, "replica", "replicas"))
	switch {
	case from != "" && len(byColor[from]) == 0:
		// The record says which color served, but its containers are gone
		// (removed by hand): say so rather than name a version that is not there.
		r.say("Active %s containers are gone, deploying: %s", from, to)
	case from != "":
		r.say("Current active: %s, deploying: %s", from, to)
	default:
		r.say("No active version, deploying: %s", to)
	}
	if len(legacy) > 0 {
		r.say("Found %s from before blue-green deploys (%s); serving until the switch, removed after it",
			plural(len(legacy), "container", "containers"), strings.Join(legacy, ", "))
	}
	r.say("Deploying %d replica(s): %s", len(newSet), strings.Join(newSet, ", "))
	return func(rec *machine.Record) {
		rec.Server = r.srv.Name
		rec.Release, rec.Previous = r.app.Release, previous
		rec.FromColor, rec.ToColor, rec.Active = from, to, from
		rec.Old, rec.New = old, newSet
		rec.Holder, rec.StartedAt = r.opts.Holder, r.begun
		rec.Error, rec.Outcome = "", ""
	}, nil
}

// activeColor is the color that serves now: the record's, else the color
// of the running containers, else the color the route points at.
func (r *run) activeColor(ctx context.Context, rec machine.Record, byColor map[string][]drivers.Container) (string, error) {
	if rec.Active == naming.Blue || rec.Active == naming.Green {
		return rec.Active, nil
	}
	var running []string
	for _, color := range []string{naming.Blue, naming.Green} {
		if slices.ContainsFunc(byColor[color], drivers.Container.Running) {
			running = append(running, color)
		}
	}
	if len(running) < 2 {
		if len(running) == 1 {
			return running[0], nil
		}
		return "", nil
	}
	// Both colors run and no record says which serves: the route does.
	routes, err := r.srv.Proxy.Routes(ctx)
	if err != nil {
		return "", fmt.Errorf("find the active color: %w", err)
	}
	for _, rt := range routes {
		if rt.App != r.app.Key() {
			continue
		}
		for _, color := range []string{naming.Blue, naming.Green} {
			if routesTo(rt.Targets, names(byColor[color])) {
				return color, nil
			}
		}
	}
	return "", fmt.Errorf("both blue and green containers of %s run and neither the deploy record nor the proxy says which serves; remove the wrong ones", r.app.Name)
}

// routesTo tells whether any target is one of the containers.
func routesTo(targets, containers []string) bool {
	for _, t := range targets {
		name, _, _ := strings.Cut(t, ":")
		if slices.Contains(containers, name) {
			return true
		}
	}
	return false
}

func names(cs []drivers.Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// peersColor is the color the other servers serve once a dead run's
// record is recovered, when they agree on one; "" otherwise. A server
// deployed for the first time beside them takes their next color, so
// one deploy leaves one color everywhere.
func peersColor(peers []machine.Record) string {
	colors := map[string]bool{}
	for _, p := range peers {
		c := p.Active
		switch {
		case p.State == machine.Idle:
		case machine.Switched(p.State), p.State == machine.Switching && switchedOn(p, peers) != "":
			c = p.ToColor // finished forward first (recover.go)
		default:
			c = p.FromColor
		}
		if c != "" {
			colors[c] = true
		}
	}
	if len(colors) != 1 {
		return ""
	}
	for c := range colors {
		return c
	}
	return ""
}
