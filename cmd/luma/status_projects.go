package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/status"
)

// serverProjects is what one server's luma-proxy serves.
type serverProjects struct {
	Server   string           `json:"server"`
	Projects []status.Project `json:"projects"`
}

// runAllProjects is `luma status --all-projects`: every project luma-proxy
// serves on the project's servers (or --server's), from its store and
// routes, so a team sharing servers sees who else is there.
func runAllProjects(ctx context.Context, g *globals, opts *statusOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	names := cfg.Servers()
	if opts.server != "" {
		if !slices.Contains(names, opts.server) {
			return exitWith(exitUsage, fmt.Errorf("server %q is not in %s (servers: %s)", opts.server, cfg.File, strings.Join(names, ", ")))
		}
		names = []string{opts.server}
	}
	f, err := connectServers(ctx, g, cfg, names)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	var out []serverProjects
	err = f.Each(func(s *fleet.Server) error {
		records, err := s.Proxy.Records(ctx)
		if err != nil {
			return err
		}
		routes, err := s.Proxy.Routes(ctx)
		if err != nil {
			return err
		}
		claims, err := s.Proxy.PortClaims(ctx)
		if err != nil {
			claims = nil // a luma-proxy too old to keep them: ports unknown
		}
		mu.Lock()
		out = append(out, serverProjects{Server: s.Name, Projects: status.Projects(records, routes, claims)})
		mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(out, func(a, b serverProjects) int {
		return slices.Index(names, a.Server) - slices.Index(names, b.Server)
	})
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"servers": out})
	}
	for _, s := range out {
		g.out.Printf(s.Server, "luma-proxy serves %d project(s)", len(s.Projects))
		for _, p := range s.Projects {
			line := "  " + p.Name
			if p.Name == cfg.Name {
				line += " (this project)"
			}
			if p.Ports != nil {
				line += ": " + p.Ports.String()
			}
			g.out.Printf(s.Server, "%s", line)
			for _, a := range p.Apps {
				g.out.Printf(s.Server, "    %s", appWords(a))
			}
		}
	}
	return nil
}

// appWords is one app of another project: enough to see who is there.
func appWords(a status.ProjectApp) string {
	s := a.App
	if a.Release != "" {
		s += " " + a.Release
	}
	if a.Active != "" {
		s += " (" + a.Active + ")"
	}
	if a.State != "" && a.State != "idle" {
		s += ", deploy " + string(a.State)
	}
	if len(a.Hosts) > 0 {
		s += " → " + strings.Join(a.Hosts, ", ")
	}
	if !a.Routed {
		s += ", no route"
	}
	return s
}
