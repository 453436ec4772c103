package deploy

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/prune"
	"github.com/luma-deploy/luma/steps"
)

// pruneApp removes old images of an app from each server it was deployed
// to, and from the local engine it was built on, once the deploy is at
// rest. It is housekeeping: a failure is a warning line, never the
// deploy's failure.
func pruneApp(ctx context.Context, opts Options, a *config.App, res steps.Result) {
	if ctx.Err() != nil {
		return // interrupted: leave the rest for the next deploy
	}
	app := prune.App{Project: opts.Config.Name, Name: a.Name, Keep: a.KeepReleases}
	var targets []prune.Target
	local, _ := opts.Source.(prune.Engine)
	for _, r := range res.Servers {
		if r.Outcome != steps.Deployed {
			continue
		}
		s := opts.Servers[r.Server]
		targets = append(targets, prune.Target{Name: r.Server, Engine: s.Engine, Records: s.Proxy})
		if local != nil && any(s.Engine) == any(local) {
			local = nil // the local engine is this server: pruned as one
		}
	}
	if len(targets) == 0 {
		return // deployed nowhere: what was built may be needed again
	}
	if local != nil {
		targets = append(targets, prune.Target{Name: LocalName, Engine: local})
	}
	var g errgroup.Group
	g.SetLimit(16)
	for _, t := range targets {
		g.Go(func() error {
			r, err := prune.Run(ctx, t, app)
			if line := r.Line(); line != "" {
				opts.Out.Printf(t.Name, "%s", line)
			}
			if err != nil {
				opts.Out.Printf(t.Name, "Warning: could not remove every old image of %s: %v", a.Name, err)
			}
			return nil
		})
	}
	g.Wait()
}

// LocalName is how output names the local engine when it is no server of
// the app: where images are built.
const LocalName = "local"
