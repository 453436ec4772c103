package status

import (
	"cmp"
	"slices"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// Project is one project a server's luma-proxy serves, for `luma status
// --all-projects`: what its store and routes say, not its containers.
type Project struct {
	Name  string             `json:"project"`
	Ports *drivers.PortClaim `json:"ports,omitempty"` // nil: never set up with a luma that records them
	Apps  []ProjectApp       `json:"apps"`
}

// ProjectApp is one app of a Project.
type ProjectApp struct {
	App     string        `json:"app"`
	State   machine.State `json:"state"`
	Release string        `json:"release,omitempty"`
	Active  string        `json:"active,omitempty"`
	Hosts   []string      `json:"hosts,omitempty"`
	Routed  bool          `json:"routed"` // the proxy has a route for it
}

// Projects groups a server's records, routes and port claims by project,
// sorted by name.
func Projects(records []machine.Record, routes []drivers.Route, claims []drivers.PortClaim) []Project {
	ports := map[string]*drivers.PortClaim{}
	apps := map[string]map[string]*ProjectApp{} // project → app →
	app := func(project, name string) *ProjectApp {
		if apps[project] == nil {
			apps[project] = map[string]*ProjectApp{}
		}
		a, ok := apps[project][name]
		if !ok {
			a = &ProjectApp{App: name}
			apps[project][name] = a
		}
		return a
	}
	for _, r := range records {
		a := app(r.Project, r.App)
		a.State, a.Release, a.Active = r.State, r.Release, r.Active
	}
	for _, rt := range routes {
		if project, name, ok := strings.Cut(rt.App, "/"); ok {
			a := app(project, name)
			a.Hosts, a.Routed = rt.Hosts, true
		}
	}
	for _, c := range claims {
		ports[c.Project] = &c
		if apps[c.Project] == nil {
			apps[c.Project] = map[string]*ProjectApp{}
		}
	}
	out := make([]Project, 0, len(apps))
	for name, byApp := range apps {
		p := Project{Name: name, Ports: ports[name], Apps: []ProjectApp{}}
		for _, a := range byApp {
			p.Apps = append(p.Apps, *a)
		}
		slices.SortFunc(p.Apps, func(a, b ProjectApp) int { return cmp.Compare(a.App, b.App) })
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Project) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
