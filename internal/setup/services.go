package setup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/internal/pull"
)

// Service is an accessory (a database, a cache): one container per server,
// not proxied and not deployed blue-green, reachable by its name on the
// project network.
type Service struct {
	Project, Name, Image string
	Env                  []string // KEY=VALUE, secrets included: never printed
	SecretNames          []string // what the config digest records instead of secret values
	PlainEnv             []string // plain entries, part of the digest
	Cmd, Volumes, Ports  []string
	// Registry is the project's registry credentials (nil: none), sent
	// only when Image is on that registry.
	Registry *drivers.RegistryAuth
}

// Labels on service containers.
const ()

// Services starts every service on one server: a missing one is created, a
// stopped one started, one made from another configuration is recreated
// only with restart (a database must not go down by surprise), else named.
func Services(ctx context.Context, server string, e Engine, source drivers.Images, svcs []Service, restart bool, rep Reporter) error {
	for _, s := range svcs {
		if err := service(ctx, server, e, source, s, restart, rep); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return nil
}

func service(ctx context.Context, server string, e Engine, source drivers.Images, s Service, restart bool, rep Reporter) error {
	if err := serviceImage(ctx, server, e, source, s, rep); err != nil {
		return err
	}
	id, err := e.ImageID(ctx, s.Image)
	if err != nil {
		return err
	}
	if id == "" {
		return fmt.Errorf("image %s is not on %s, nor on the local engine to send it from", s.Image, server)
	}
	digest := s.digest(id)
	name := naming.ServiceContainer(s.Project, s.Name)
	c, err := e.Inspect(ctx, name)
	switch {
	case errors.Is(err, drivers.ErrNotFound):
		rep.Printf(server, "Starting service %s (%s)...", s.Name, s.Image)
		return createService(ctx, e, s, name, digest, nil)
	case err != nil:
		return err
	case c.Labels[naming.LabelConfig] == digest && c.Running():
		rep.Printf(server, "Service %s is up to date", s.Name)
		return nil
	case c.Labels[naming.LabelConfig] == digest:
		rep.Printf(server, "Starting stopped service %s...", s.Name)
		return e.Start(ctx, name)
	case !restart:
		rep.Printf(server, "Service %s runs an older configuration: run `luma setup --restart-services` to recreate it (brief downtime; volumes are kept)", s.Name)
		return nil
	}
	rep.Printf(server, "Recreating service %s (configuration changed)...", s.Name)
	if _, kept := naming.Volumes(s.Project, s.Volumes, c.Volumes); len(kept) > 0 {
		rep.Printf(server, "Volume %s keeps its name: service %s uses it, made before volume names carried the project (%s-NAME)",
			strings.Join(kept, ", "), s.Name, s.Project)
	}
	if err := e.Stop(ctx, name, serviceStopTimeout); err != nil && !errors.Is(err, drivers.ErrNotFound) {
		return err
	}
	if err := e.Remove(ctx, name); err != nil {
		return err
	}
	return createService(ctx, e, s, name, digest, c.Volumes)
}

const serviceStopTimeout = 30 * time.Second

// serviceImage puts the service's image on the server: sent from the
// local engine when it has it and it is not the registry's (as without a
// registry), else pulled by the server when it lacks it.
func serviceImage(ctx context.Context, server string, e Engine, source drivers.Images, s Service, rep Reporter) error {
	if source != nil && s.Registry.For(s.Image) == nil {
		local, err := source.ImageID(ctx, s.Image)
		if err != nil {
			return fmt.Errorf("look for image %s on the local engine: %w", s.Image, err)
		}
		if local != "" {
			if err := docker.Transfer(ctx, source, e, s.Image); err != nil {
				return fmt.Errorf("image %s: %w", s.Image, err)
			}
			return nil
		}
	}
	have, err := e.ImageID(ctx, s.Image)
	if err != nil || have != "" {
		return err
	}
	return pull.Image(ctx, server, e, s.Image, s.Registry, rep)
}

// createService creates and starts the service's container; legacy is
// what the container it replaces mounted (naming.Volumes).
func createService(ctx context.Context, e Engine, s Service, name, digest string, legacy map[string]string) error {
	vols, _ := naming.Volumes(s.Project, s.Volumes, legacy)
	spec := drivers.ContainerSpec{
		Name:        name,
		Image:       s.Image,
		Labels:      map[string]string{naming.LabelProject: s.Project, naming.LabelService: s.Name, naming.LabelConfig: digest},
		Env:         s.Env,
		Cmd:         s.Cmd,
		Network:     naming.Network(s.Project),
		Aliases:     []string{s.Name},
		Volumes:     vols,
		Ports:       s.Ports,
		StopSignal:  "SIGTERM",
		StopTimeout: serviceStopTimeout,
		Restart:     "unless-stopped",
	}
	if err := e.Create(ctx, spec); err != nil {
		return err
	}
	if err := e.Start(ctx, name); err != nil {
		e.Remove(context.WithoutCancel(ctx), name)
		return err
	}
	return nil
}

// digest identifies what a service container is made from. Secret values
// stay out of it (labels are readable by anyone with Engine access), so a
// changed secret alone needs --restart-services.
func (s Service) digest(imageID string) string {
	b, _ := json.Marshal(struct {
		ImageID                          string
		Plain, Secrets, Cmd, Vols, Ports []string
	}{imageID, s.PlainEnv, s.SecretNames, s.Cmd, s.Volumes, s.Ports})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
