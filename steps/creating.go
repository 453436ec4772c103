package steps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
	"github.com/luma-deploy/luma/machine"
)

// create is the work of Creating: network, image, then the new replicas
// created and started at once, without the app's alias (nothing may reach
// them before they are healthy).
func (r *run) create(ctx context.Context) (func(*machine.Record), error) {
	return nil, r.createSet(ctx)
}

func (r *run) createSet(ctx context.Context) error {
	rec := r.m.Record()
	if err := r.srv.Engine.EnsureNetwork(ctx, r.app.Network(), map[string]string{naming.LabelProject: r.app.Project}); err != nil {
		return fmt.Errorf("network %s: %w", r.app.Network(), err)
	}
	if err := r.ensureImage(ctx); err != nil {
		for _, name := range rec.New {
			r.say("Failed to create container %s: %v", name, err)
		}
		return err
	}
	if len(r.leftovers) > 0 {
		r.say("Removing %s left by an earlier deploy: %s",
			plural(len(r.leftovers), "container", "containers"), strings.Join(r.leftovers, ", "))
		if err := parallel(ctx, r.leftovers, true, func(ctx context.Context, name string) error {
			return r.srv.Engine.Remove(ctx, name)
		}); err != nil {
			return fmt.Errorf("remove leftover containers: %w", err)
		}
	}
	if _, kept := naming.Volumes(r.app.Project, r.app.Volumes, r.oldVolumes); len(kept) > 0 {
		r.say("Volume %s keeps its name: the serving containers use it, made before volume names carried the project (%s-NAME)",
			strings.Join(kept, ", "), r.app.Project)
	}
	// Replicas are created at once; their lines come in replica order.
	for _, name := range rec.New {
		r.say("Creating container %s...", name)
	}
	err := parallel(ctx, rec.New, true, func(ctx context.Context, name string) error {
		replica := slices.Index(rec.New, name) + 1
		if err := r.srv.Engine.Create(ctx, r.spec(name, rec.ToColor, replica)); err != nil {
			if errors.Is(err, drivers.ErrConflict) {
				if c, ierr := r.srv.Engine.Inspect(ctx, name); ierr == nil && !r.ours(c) {
					err = fmt.Errorf("a container named %s already exists and was not made by luma for %s: rename or remove it", name, r.app.Key())
				}
			}
			if ctx.Err() == nil {
				r.say("Failed to create container %s: %v", name, drivers.Reason(err))
			}
			return fmt.Errorf("create container %s: %w", name, drivers.Reason(err))
		}
		if err := r.srv.Engine.Start(ctx, name); err != nil {
			if ctx.Err() == nil {
				r.say("Failed to start container %s: %v", name, drivers.Reason(err))
			}
			return fmt.Errorf("start container %s: %w", name, drivers.Reason(err))
		}
		return nil
	})
	return err
}

// ours tells by its labels whether c is one of this app's containers: luma
// never removes a container it did not make, even one named like its own
// (a foreign one, or another project's app of the same name).
func (r *run) ours(c drivers.Container) bool {
	return c.Labels[naming.LabelProject] == r.app.Project && c.Labels[naming.LabelApp] == r.app.Name
}

// spec is a new replica. Its color lives in a label that never changes;
// which color is active lives in the record and the route, since labels
// cannot change on a running container.
func (r *run) spec(name, color string, replica int) drivers.ContainerSpec {
	a := r.app
	env := append(slices.Clone(a.Env),
		"LUMA_APP="+a.Name, "LUMA_COLOR="+color, "LUMA_RELEASE="+a.Release)
	vols, _ := naming.Volumes(a.Project, a.Volumes, r.oldVolumes)
	return drivers.ContainerSpec{
		Name:  name,
		Image: a.Image,
		Labels: map[string]string{
			naming.LabelProject: a.Project, naming.LabelApp: a.Name, naming.LabelColor: color,
			naming.LabelReplica: strconv.Itoa(replica), naming.LabelRelease: a.Release,
		},
		Env:         env,
		Cmd:         a.Cmd,
		Network:     a.Network(),
		Volumes:     vols,
		StopSignal:  "SIGTERM",
		StopTimeout: a.StopTimeout,
		Restart:     "unless-stopped",
	}
}

// ensureImage sends the image from Source when the server lacks it or
// holds another image under the same tag (a rebuilt release, a moving tag),
// only the layers the server lacks (sending.go).
func (r *run) ensureImage(ctx context.Context) error {
	img := r.app.Image
	have, err := r.srv.Engine.ImageID(ctx, img)
	if err != nil {
		return fmt.Errorf("look for image %s: %w", img, err)
	}
	// Luma pulls from no registry: the image is on the local engine (which
	// may be this server's), or already on the server.
	want := ""
	if r.srv.Source != nil {
		if want, err = r.srv.Source.ImageID(ctx, img); err != nil {
			return fmt.Errorf("look for image %s on the local engine: %w", img, err)
		}
	}
	r.imageID = cmp.Or(want, have) // what the new set runs, for the history
	switch {
	case want == "" && have == "" && r.srv.Source == nil:
		return fmt.Errorf("image %s is not on %s and there is no source to send it from", img, r.srv.Name)
	case want == "" && have == "":
		return fmt.Errorf("image %s is not on %s, nor on the local engine to send it from", img, r.srv.Name)
	case want == "" || want == have:
		return nil // the server's copy is the only one, or the same
	}
	return r.sendImage(ctx, img)
}
