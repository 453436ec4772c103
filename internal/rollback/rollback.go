// Package rollback is `luma rollback` without the CLI: it reads each
// server's deploy record and audit log, picks the release to go back to
// and the image that runs it, for internal/deploy to deploy through the
// same state machine as any release.
package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/history"
	"github.com/luma-deploy/luma/machine"
)

// Server is what a rollback reads on one server.
type Server struct {
	Name  string
	Image interface {
		ImageID(ctx context.Context, ref string) (string, error)
	}
	Proxy interface {
		Load(ctx context.Context, project, app string) (machine.Record, error)
		Events(ctx context.Context, project string) ([]drivers.Event, error)
	}
}

// Plan is where a rollback goes and with what image.
type Plan struct {
	App     string
	Current string // the release served now (by the first server)
	// Differs names servers that serve another release than Current.
	Differs []string
	Target  string
	Image   string // what the servers run: the image ID when every server holds it
	Ref     string // the image's name
	// Missing names the servers that lack the image: it is sent or
	// pulled there first. Empty: the rollback needs no transfer.
	Missing []string
}

// Make reads the app's records and history on its servers (in config
// order) and plans the rollback to to, or to the release before the
// current one when to is "".
func Make(ctx context.Context, project, app string, servers []Server, to string) (Plan, error) {
	recs := make([]machine.Record, len(servers))
	events := map[string][]drivers.Event{}
	logs := make([][]drivers.Event, len(servers))
	var g errgroup.Group
	for i, s := range servers {
		g.Go(func() error {
			r, err := s.Proxy.Load(ctx, project, app)
			if err != nil && !errors.Is(err, drivers.ErrNotFound) {
				return fmt.Errorf("[%s] read the deploy record of %s: %w", s.Name, app, err)
			}
			recs[i] = r
			ev, err := s.Proxy.Events(ctx, project)
			if err != nil {
				return fmt.Errorf("[%s] read the release history: %w", s.Name, err)
			}
			logs[i] = ev
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Plan{}, err
	}
	p := Plan{App: app}
	for i, s := range servers {
		events[s.Name] = logs[i]
		rel := serving(recs[i])
		switch {
		case p.Current == "" && i == 0:
			p.Current = rel
		case rel != p.Current:
			p.Differs = append(p.Differs, fmt.Sprintf("%s serves %s", s.Name, orNothing(rel)))
		}
	}
	if allNothing(recs) {
		return Plan{}, fmt.Errorf("%s is not deployed on %s: nothing to roll back", app, names(servers))
	}
	runs := history.Merge(events)
	target, err := history.Target(runs, app, p.Current, to)
	if err != nil {
		if len(history.ForApp(runs, app)) == 0 {
			err = fmt.Errorf("%w\nthe release history starts with the first deploy after `luma setup` upgraded luma-proxy to keep one; earlier deploys are not in it", err)
		}
		return Plan{}, err
	}
	p.Target = target.Release
	return p, p.pickImage(ctx, servers, target.Run)
}

// pickImage runs the target by image ID when every server holds the ID
// its run recorded (instant, and right even if the name was re-tagged
// since), else by name, which is sent or pulled where it is missing.
func (p *Plan) pickImage(ctx context.Context, servers []Server, run history.Run) error {
	ids := map[string]string{}
	for _, s := range run.Servers {
		ids[s.Server] = s.ImageID
		if p.Ref == "" {
			p.Ref = s.Image
		}
	}
	if p.Ref == "" {
		return fmt.Errorf("the history of %s names no image for release %s", p.App, p.Target)
	}
	id := ""
	for _, s := range servers {
		want := ids[s.Name]
		if want == "" { // the release never ran here: another's ID tells
			want = ids[run.Servers[0].Server]
		}
		if want == "" {
			p.Missing = append(p.Missing, s.Name)
			continue
		}
		have, err := s.Image.ImageID(ctx, want)
		if err != nil {
			return fmt.Errorf("[%s] look for image %s: %w", s.Name, p.Ref, err)
		}
		if have == "" || (id != "" && have != id) {
			p.Missing = append(p.Missing, s.Name)
			continue
		}
		id = have
	}
	p.Image = p.Ref
	if len(p.Missing) == 0 && id != "" {
		p.Image = id
	}
	return nil
}

// serving is the release a record says serves. A record a deploy left
// midway (it runs, or it died: the rollback's deploy waits for the one
// or recovers the other first) serves what it replaced until its switch.
func serving(r machine.Record) string {
	switch {
	case r.Active == "":
		return ""
	case r.State == machine.Idle || r.State == "" || machine.Switched(r.State):
		return r.Release
	}
	return r.Previous
}

func orNothing(rel string) string {
	if rel == "" {
		return "nothing"
	}
	return rel
}

func allNothing(recs []machine.Record) bool {
	for _, r := range recs {
		if r.Active != "" {
			return false
		}
	}
	return true
}

func names(servers []Server) string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Name
	}
	return strings.Join(out, ", ")
}
