package docker_test

import (
	"context"
	"testing"

	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/internal/enginetest"
	"github.com/luma-deploy/luma/internal/testenv"
)

// TestContract runs the engine contract, which drivers/fake runs against
// the fake, on the real Engine: what holds here must hold there.
func TestContract(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Docker Engine")
	}
	reg := testenv.NewRegistry(t)
	enginetest.Run(t, func(t *testing.T) enginetest.Subject {
		e := testenv.Docker(t)
		cli, err := client.New(client.FromEnv)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return enginetest.Subject{
			Engine:   e,
			Sessions: e,
			Image:    testenv.BuildHello(t, "contract"),
			Labels:   testenv.Labels(t),
			Env: func(ctx context.Context, name string) ([]string, error) {
				r, err := cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
				if err != nil {
					return nil, err
				}
				return r.Container.Config.Env, nil
			},
			RemoveImage: func(ctx context.Context, ref string) error {
				_, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
				return err
			},
			RemoveVolume: func(ctx context.Context, name string) error {
				_, err := cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{})
				return err
			},
			Registry: &enginetest.Registry{Host: reg.Addr, User: reg.User, Password: reg.Password},
		}
	})
}
