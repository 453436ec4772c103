package main

import (
	"context"
	"fmt"

	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
)

// connectServers reaches every server before anything is changed anywhere.
func connectServers(ctx context.Context, g *globals, cfg *config.Config, names []string) (*fleet.Fleet, error) {
	g.log.Debug("connecting", "servers", names)
	f, err := fleet.Connect(ctx, cfg, names)
	if err != nil {
		return nil, fmt.Errorf("cannot reach every server, nothing was changed:\n%w", err)
	}
	return f, nil
}

// serversOf lists the distinct servers of the given apps, in config order.
func serversOf(apps []*config.App) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range apps {
		for _, s := range a.Servers {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// selectApps returns the named apps, or all of them when none is named.
func selectApps(cfg *config.Config, names []string) ([]*config.App, error) {
	if len(names) == 0 {
		out := make([]*config.App, len(cfg.Apps))
		for i := range cfg.Apps {
			out[i] = &cfg.Apps[i]
		}
		return out, nil
	}
	var out []*config.App
	for _, n := range names {
		a, ok := cfg.App(n)
		if !ok {
			return nil, exitWith(exitUsage, fmt.Errorf("no app %q in %s (apps: %s)", n, cfg.File, appNames(cfg)))
		}
		out = append(out, a)
	}
	return out, nil
}

func appNames(cfg *config.Config) string {
	s := ""
	for i, a := range cfg.Apps {
		if i > 0 {
			s += ", "
		}
		s += a.Name
	}
	return s
}

// loadApp loads luma.yml and the one app a command names (exit 2 when
// luma.yml has none of that name).
func loadApp(g *globals, name string) (*config.Config, *config.App, error) {
	cfg, err := loadConfig(g)
	if err != nil {
		return nil, nil, err
	}
	apps, err := selectApps(cfg, []string{name})
	if err != nil {
		return nil, nil, err
	}
	return cfg, apps[0], nil
}
