package docker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

// Create creates a container from spec. Errors never carry spec.Env.
func (e *Engine) Create(ctx context.Context, spec drivers.ContainerSpec) error {
	what := "create container " + spec.Name
	opts, err := createOptions(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return e.create(ctx, what, opts)
}

func (e *Engine) create(ctx context.Context, what string, opts client.ContainerCreateOptions) error {
	_, err := e.cli.ContainerCreate(ctx, opts)
	if err != nil && isNotFound(err) {
		// The name is new, so what is missing is the image or the network.
		return &drivers.OpError{Op: what, Err: fmt.Errorf("%w (%v)", drivers.ErrNotFound, err)}
	}
	return wrap(err, what)
}

// createOptions is spec as the Engine's create call takes it.
func createOptions(spec drivers.ContainerSpec) (client.ContainerCreateOptions, error) {
	cfg := &container.Config{
		Image:      spec.Image,
		Labels:     spec.Labels,
		Env:        spec.Env,
		StopSignal: spec.StopSignal,
	}
	if len(spec.Cmd) > 0 {
		cfg.Cmd = spec.Cmd
	}
	if spec.StopTimeout >= 0 { // 0 is a timeout too: kill at once
		s := seconds(spec.StopTimeout)
		cfg.StopTimeout = &s
	}
	host := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(spec.Restart)},
		Binds:         spec.Volumes,
	}
	if len(spec.Ports) > 0 {
		exposed, bindings, err := portBindings(spec.Ports)
		if err != nil {
			return client.ContainerCreateOptions{}, err
		}
		cfg.ExposedPorts = exposed
		host.PortBindings = bindings
	}
	var netcfg *network.NetworkingConfig
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
		netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}
	return client.ContainerCreateOptions{
		Name:             spec.Name,
		Config:           cfg,
		HostConfig:       host,
		NetworkingConfig: netcfg,
	}, nil
}

func isNotFound(err error) bool { return err != nil && errors.Is(wrap(err, ""), drivers.ErrNotFound) }

// seconds rounds up to whole seconds, the Engine's unit.
func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// portBindings parses "[ip:]hostPort:containerPort[/proto]".
func portBindings(ports []string) (network.PortSet, network.PortMap, error) {
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range ports {
		parts := strings.Split(p, ":")
		var ip, hostPort, ctrPort string
		switch len(parts) {
		case 2:
			hostPort, ctrPort = parts[0], parts[1]
		case 3:
			ip, hostPort, ctrPort = parts[0], parts[1], parts[2]
		default:
			return nil, nil, fmt.Errorf("port %q: want hostPort:containerPort[/proto]", p)
		}
		port, err := network.ParsePort(ctrPort)
		if err != nil {
			return nil, nil, fmt.Errorf("port %q: %w", p, err)
		}
		b := network.PortBinding{HostPort: hostPort}
		if ip != "" {
			addr, err := netip.ParseAddr(strings.Trim(ip, "[]"))
			if err != nil {
				return nil, nil, fmt.Errorf("port %q: %w", p, err)
			}
			b.HostIP = addr
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], b)
	}
	return exposed, bindings, nil
}

// Start starts a created or stopped container.
func (e *Engine) Start(ctx context.Context, name string) error {
	_, err := e.cli.ContainerStart(ctx, name, client.ContainerStartOptions{})
	return wrap(err, "start container "+name)
}

// Stop sends the container's stop signal (set at create: API 1.41 ignores a
// stop-time signal) and kills it after timeout. A stopped container is no
// error.
func (e *Engine) Stop(ctx context.Context, name string, timeout time.Duration) error {
	opts := client.ContainerStopOptions{}
	if timeout >= 0 { // 0 kills at once, not the engine's 10 s default
		s := seconds(timeout)
		opts.Timeout = &s
	}
	_, err := e.cli.ContainerStop(ctx, name, opts)
	return wrap(err, "stop container "+name)
}

// Remove force-removes a container and its anonymous volumes; a missing one
// is no error.
func (e *Engine) Remove(ctx context.Context, name string) error {
	_, err := e.cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if isNotFound(err) {
		return nil
	}
	// A removal already under way is as good as done.
	if err != nil && strings.Contains(err.Error(), "is already in progress") {
		return nil
	}
	return wrap(err, "remove container "+name)
}

// Inspect reports one container.
func (e *Engine) Inspect(ctx context.Context, name string) (drivers.Container, error) {
	r, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return drivers.Container{}, wrap(err, "inspect container "+name)
	}
	return fromInspect(r.Container), nil
}

func fromInspect(in container.InspectResponse) drivers.Container {
	c := drivers.Container{
		ID:           in.ID,
		ImageID:      in.Image,
		Name:         strings.TrimPrefix(in.Name, "/"),
		RestartCount: in.RestartCount,
		Networks:     map[string][]string{},
	}
	if in.Config != nil {
		c.Image = in.Config.Image
		c.Labels = in.Config.Labels
	}
	if s := in.State; s != nil {
		c.State = string(s.Status)
		if s.Restarting {
			c.State = "restarting"
		}
		c.ExitCode = s.ExitCode
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
	}
	for _, m := range in.Mounts {
		if m.Type == "volume" && m.Name != "" {
			if c.Volumes == nil {
				c.Volumes = map[string]string{}
			}
			c.Volumes[m.Destination] = m.Name
		}
	}
	if in.NetworkSettings != nil {
		short := in.ID
		if len(short) > 12 {
			short = short[:12]
		}
		for name, ep := range in.NetworkSettings.Networks {
			aliases := []string{}
			if ep != nil {
				for _, a := range ep.Aliases {
					// The Engine adds the short ID as an alias on
					// user-defined networks; it is not one of ours.
					if a != short {
						aliases = append(aliases, a)
					}
				}
			}
			c.Networks[name] = aliases
		}
	}
	return c
}

// List returns the containers, running or not, carrying every label given,
// sorted by name.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]drivers.Container, error) {
	f := client.Filters{}
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	r, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, wrap(err, "list containers")
	}
	// The list lacks restart counts, start times and aliases: inspect each.
	out := make([]drivers.Container, 0, len(r.Items))
	for _, s := range r.Items {
		c, err := e.Inspect(ctx, s.ID)
		if errors.Is(err, drivers.ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
