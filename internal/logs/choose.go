package logs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
)

// SelectServers is servers, or only the one named when only is set; what
// names whose servers they are in the error (e.g. `app "blog"`).
func SelectServers(what string, servers []string, only string) ([]string, error) {
	if only == "" {
		return servers, nil
	}
	if !slices.Contains(servers, only) {
		return nil, fmt.Errorf("server %q is not one of %s's servers (servers: %s)", only, what, strings.Join(servers, ", "))
	}
	return []string{only}, nil
}

// present lists the containers of the app (or luma-proxy) on s, running
// or not, by name.
func (o *Options) present(ctx context.Context, s Server) ([]drivers.Container, error) {
	if o.Proxy {
		list, err := s.Engine.List(ctx, map[string]string{naming.LabelRole: naming.RoleProxy})
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(list, func(c drivers.Container) bool { return c.Name != naming.ProxyContainer }), nil
	}
	return s.Engine.List(ctx, map[string]string{naming.LabelProject: o.Project, naming.LabelApp: o.App})
}

// chosen are the containers whose logs a run starts with on s: every one
// with All or for luma-proxy, else those of the color luma-proxy's record
// says is active, whatever their state (a crashed one's log is the one a
// user looks for), or without a record the running ones.
func (o *Options) chosen(ctx context.Context, s Server) ([]drivers.Container, error) {
	list, err := o.present(ctx, s)
	if err != nil || o.All || o.Proxy {
		if err == nil && o.Proxy && len(list) == 0 {
			return nil, fmt.Errorf("no %s container: run `luma setup`", naming.ProxyContainer)
		}
		return list, err
	}
	active := ""
	// A luma-proxy that does not answer has no record to give: the
	// running containers are still worth reading.
	if rec, err := s.Proxy.Load(ctx, o.Project, o.App); err == nil {
		active = rec.Active
	}
	return slices.DeleteFunc(list, func(c drivers.Container) bool {
		if active != "" {
			return c.Labels[naming.LabelColor] != active
		}
		return !c.Running()
	}), nil
}
