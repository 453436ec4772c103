package status

import (
	"context"
	"sync"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
	"golang.org/x/sync/errgroup"
)

// Connect opens one server for reading; done releases it. An error means
// the server cannot be reached; status reports it as such.
type Connect func(ctx context.Context, server string) (e drivers.Containers, p drivers.Proxy, done func(), err error)

// Reading is everything one server says about a project, read once for
// all its apps and services.
type Reading struct {
	Err        error // the server could not be read
	ProxyErr   error // luma-proxy did not answer: no records, locks, routes
	Containers []drivers.Container
	Records    []machine.Record
	Locks      []drivers.Lock
	Routes     []drivers.Route
	// Certificates of HTTPS hosts; none from a proxy too old to say.
	Certificates []drivers.Certificate
}

// Read reads every server at once, at most limit at a time.
func Read(ctx context.Context, connect Connect, project string, servers []string, limit int) map[string]*Reading {
	out := map[string]*Reading{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(limit)
	for _, name := range servers {
		g.Go(func() error {
			r := readServer(ctx, connect, project, name)
			mu.Lock()
			out[name] = r
			mu.Unlock()
			return nil // an unreachable server is part of the report
		})
	}
	g.Wait()
	return out
}

func readServer(ctx context.Context, connect Connect, project, name string) *Reading {
	e, p, done, err := connect(ctx, name)
	if err != nil {
		return &Reading{Err: err}
	}
	defer done()
	r := &Reading{}
	if r.Containers, err = e.List(ctx, map[string]string{naming.LabelProject: project}); err != nil {
		return &Reading{Err: err}
	}
	r.readProxy(ctx, p)
	return r
}

// readProxy reads the deploy records, locks and routes of luma-proxy. A
// server whose luma-proxy does not answer still shows its containers, with
// the proxy's error instead of a deploy state.
func (r *Reading) readProxy(ctx context.Context, p drivers.Proxy) {
	var err error
	if r.Records, err = p.Records(ctx); err != nil {
		r.ProxyErr = err
		return
	}
	if r.Locks, err = p.Locks(ctx); err != nil {
		r.ProxyErr = err
		return
	}
	if r.Routes, err = p.Routes(ctx); err != nil {
		r.ProxyErr = err
		return
	}
	// A luma-proxy from before HTTPS does not know the op: it has none.
	r.Certificates, _ = p.Certificates(ctx)
}

// Input is what the server said about one app.
func (r *Reading) Input(server, project, app string) ServerInput {
	in := ServerInput{Name: server, Err: r.Err, ProxyErr: r.ProxyErr}
	if r.Err != nil {
		return in
	}
	key := naming.Key(project, app)
	for _, c := range r.Containers {
		if c.Labels[naming.LabelApp] == app {
			in.Containers = append(in.Containers, c)
		}
	}
	for i := range r.Records {
		if r.Records[i].Project == project && r.Records[i].App == app {
			in.Record = &r.Records[i]
		}
	}
	for i := range r.Locks {
		if r.Locks[i].Key == key {
			in.Lock = &r.Locks[i]
		}
	}
	for i := range r.Routes {
		if r.Routes[i].App == key {
			in.Route = &r.Routes[i]
		}
	}
	for _, c := range r.Certificates {
		if c.App == key {
			in.Certificates = append(in.Certificates, c)
		}
	}
	return in
}

// Service is where one service stands on each of its servers.
type Service struct {
	Service string          `json:"service"`
	Image   string          `json:"image"`
	Servers []ServiceServer `json:"servers"`
}

// ServiceServer is one service's container on one server.
type ServiceServer struct {
	Name  string `json:"name"`
	State string `json:"state"` // running, exited, ..., not created, or unreachable
}

// ServiceOf is where a service (name, image, servers) stands.
func ServiceOf(name, image string, servers []string, readings map[string]*Reading) Service {
	st := Service{Service: name, Image: image}
	for _, server := range servers {
		state := "not created: run `luma setup`"
		r := readings[server]
		if r.Err != nil {
			state = "unreachable: " + r.Err.Error()
		}
		for _, c := range r.Containers {
			if c.Labels[naming.LabelService] == name {
				state = c.State
			}
		}
		st.Servers = append(st.Servers, ServiceServer{server, state})
	}
	return st
}
