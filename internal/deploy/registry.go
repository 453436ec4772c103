package deploy

import (
	"context"
	"fmt"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
	"github.com/luma-deploy/luma/internal/pull"
)

// Registry is the project's registry with its credentials, resolved by
// the caller (the password from .luma/secrets).
type Registry struct {
	Server string               // host[:port][/namespace]: builds are pushed under it
	Auth   drivers.RegistryAuth // Auth.Server is the host
}

func (o Options) auth() *drivers.RegistryAuth {
	if o.Registry == nil {
		return nil
	}
	return &o.Registry.Auth
}

// pushRef is where a build tagged built is pushed with a registry: built
// itself when it names that registry already, else
// <server>/<project>-<app>:<release>. "" without a registry.
func pushRef(opts Options, a *config.App, built string) string {
	if opts.Registry == nil {
		return ""
	}
	if opts.auth().For(built) != nil {
		return built
	}
	return opts.Registry.Server + "/" + opts.Config.Name + "-" + a.Name + ":" + opts.Release
}

// publish pushes a build from the local engine, once for every server:
// a line when it starts, one every second of a longer push with how far
// it is, and one with the bytes and rate at the end.
func publish(ctx context.Context, opts Options, ref string) error {
	opts.Out.Println("Pushing %s...", ref)
	p, took, err := pull.Track(ctx, func(ctx context.Context) error {
		return opts.Source.PushImage(ctx, ref, opts.auth().For(ref))
	}, func(p drivers.Progress, took time.Duration) {
		opts.Out.Println("Pushing %s: %s, %s", ref, pull.Describe(p), pull.Rate(p.Bytes, took))
	})
	if err != nil {
		return err
	}
	opts.Out.Println("Pushed %s: %s", ref, pull.Done(p, took))
	return nil
}

// provide puts image on every server of app before anything changes
// there: a server that lacks it pulls it, unless the local engine has it
// and it is not the registry's (then steps sends it, as without a
// registry). Every server that must pull first asks the registry, so a
// missing image or a wrong password is refused before any server pulls.
// It returns where steps may send the image from: nil for an image of
// the registry, which the servers hold once pulled.
func provide(ctx context.Context, opts Options, a *config.App, image string) (drivers.Images, error) {
	fromRegistry := opts.Registry != nil && (a.Build != nil || opts.auth().For(image) != nil)
	local := ""
	if !fromRegistry && opts.Source != nil {
		id, err := opts.Source.ImageID(ctx, image)
		if err != nil {
			return nil, fmt.Errorf("look for image %s on the local engine: %w", image, err)
		}
		local = id
	}
	var need []pull.Server
	for _, name := range a.Servers {
		s, ok := opts.Servers[name]
		if !ok {
			return nil, fmt.Errorf("app %s: server %s is not connected", a.Name, name)
		}
		have, err := s.Engine.ImageID(ctx, image)
		if err != nil {
			return nil, fmt.Errorf("[%s] look for image %s: %w", name, image, err)
		}
		if have == "" && local == "" {
			need = append(need, pull.Server{Name: name, Engine: s.Engine})
		}
	}
	source := opts.Source
	if fromRegistry {
		source = nil
	}
	if len(need) == 0 {
		return source, nil
	}
	if err := pull.Check(ctx, need, image, opts.auth()); err != nil {
		return nil, fmt.Errorf("%w\nnothing was changed", err)
	}
	if err := pull.All(ctx, need, image, opts.auth(), opts.Out); err != nil {
		return nil, fmt.Errorf("%w\nnothing was changed", err)
	}
	return source, nil
}
