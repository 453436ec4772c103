package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/fleet"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/status"
	"github.com/luma-deploy/luma/machine"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

type statusOptions struct {
	apps []string
	json bool
}

func newStatusCmd(g *globals) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [app...]",
		Short: "Show where every app stands: active color, replicas, releases, deploys in progress",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.apps = args
			return runStatus(cmd.Context(), g, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON for scripts")
	return cmd
}

func runStatus(ctx context.Context, g *globals, opts *statusOptions) error {
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	apps, err := selectApps(cfg, opts.apps)
	if err != nil {
		return err
	}
	names := serversOf(apps)
	var svcs []config.Service
	if len(opts.apps) == 0 { // status of the whole project: services too
		svcs = cfg.Services
		names = cfg.Servers()
	}
	reports := readServers(ctx, cfg, names)
	var out []status.App
	for _, a := range apps {
		var inputs []status.ServerInput
		for _, s := range a.Servers {
			in := reports[s].input(cfg.Name, a.Name)
			in.Name = s
			inputs = append(inputs, in)
		}
		out = append(out, status.Of(a.Name, a.Replicas, inputs, time.Now()))
	}
	if opts.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"project": cfg.Name, "apps": out, "services": serviceStatuses(cfg, svcs, reports)})
	}
	for i, a := range out {
		if i > 0 {
			g.out.Println("")
		}
		var b strings.Builder
		status.Text(&b, a)
		g.out.Println("%s", b.String())
	}
	for _, s := range serviceStatuses(cfg, svcs, reports) {
		g.out.Println("")
		g.out.Println("🧩 Service: %s (%s)", s.Service, s.Image)
		for _, srv := range s.Servers {
			g.out.Println("   [%s] %s", srv.Name, srv.State)
		}
	}
	return nil
}

// serviceStatus is where one service stands on each of its servers.
type serviceStatus struct {
	Service string          `json:"service"`
	Image   string          `json:"image"`
	Servers []serviceServer `json:"servers"`
}

type serviceServer struct {
	Name  string `json:"name"`
	State string `json:"state"` // running, exited, ..., not created, or unreachable
}

func serviceStatuses(cfg *config.Config, svcs []config.Service, reports map[string]*serverReport) []serviceStatus {
	out := []serviceStatus{}
	for _, svc := range svcs {
		st := serviceStatus{Service: svc.Name, Image: svc.Image}
		for _, name := range svc.Servers {
			state := "not created: run `luma setup`"
			r := reports[name]
			if r.err != nil {
				state = "unreachable: " + r.err.Error()
			}
			for _, c := range r.containers {
				if c.Labels[naming.LabelService] == svc.Name {
					state = c.State
				}
			}
			st.Servers = append(st.Servers, serviceServer{name, state})
		}
		out = append(out, st)
	}
	return out
}

// serverReport is everything one server says, read once for all apps.
type serverReport struct {
	err        error
	proxyErr   error // luma-proxy did not answer: no records, locks, routes
	containers []drivers.Container
	records    []machine.Record
	locks      []drivers.Lock
	routes     []drivers.Route
}

// readServers reads every server in parallel; an unreachable server is
// reported as such rather than failing the whole status.
func readServers(ctx context.Context, cfg *config.Config, names []string) map[string]*serverReport {
	out := map[string]*serverReport{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(fleet.MaxParallel)
	for _, name := range names {
		g.Go(func() error {
			r := readServer(ctx, cfg, name)
			mu.Lock()
			out[name] = r
			mu.Unlock()
			return nil // an unreachable server is part of the report
		})
	}
	g.Wait()
	return out
}

func readServer(ctx context.Context, cfg *config.Config, name string) *serverReport {
	f, err := fleet.Connect(ctx, cfg, []string{name})
	if err != nil {
		// The status line names the server already.
		msg := strings.TrimPrefix(err.Error(), "["+name+"] ")
		return &serverReport{err: errors.New(strings.TrimPrefix(msg, name+": "))}
	}
	defer f.Close()
	s := f.Get(name)
	r := &serverReport{}
	if r.containers, err = s.Engine.List(ctx, map[string]string{naming.LabelProject: cfg.Name}); err != nil {
		return &serverReport{err: err}
	}
	r.readProxy(ctx, s.Proxy)
	return r
}

// readProxy reads the deploy records, locks and routes of luma-proxy.
func (r *serverReport) readProxy(ctx context.Context, p drivers.Proxy) {
	// A server whose luma-proxy does not answer still shows its
	// containers, with the proxy's error instead of a deploy state.
	var err error
	if r.records, err = p.Records(ctx); err != nil {
		r.proxyErr = err
		return
	}
	if r.locks, err = p.Locks(ctx); err != nil {
		r.proxyErr = err
		return
	}
	if r.routes, err = p.Routes(ctx); err != nil {
		r.proxyErr = err
	}
}

func (r *serverReport) input(project, app string) status.ServerInput {
	in := status.ServerInput{Err: r.err, ProxyErr: r.proxyErr}
	if r.err != nil {
		return in
	}
	key := project + "/" + app
	for _, c := range r.containers {
		if c.Labels[naming.LabelApp] == app {
			in.Containers = append(in.Containers, c)
		}
	}
	for i := range r.records {
		if r.records[i].Project == project && r.records[i].App == app {
			in.Record = &r.records[i]
		}
	}
	for i := range r.locks {
		if r.locks[i].Key == key {
			in.Lock = &r.locks[i]
		}
	}
	for i := range r.routes {
		if r.routes[i].App == key {
			in.Route = &r.routes[i]
		}
	}
	return in
}
