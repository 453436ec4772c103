package fake_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/enginetest"
)

// TestContract runs the engine contract, which drivers/docker runs against
// the real Engine, on the fake.
func TestContract(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) enginetest.Subject {
		h := fake.NewHost("contract")
		const image = "luma-test-hello:contract"
		h.AddImage(image)
		h.Behave(fake.Behavior{Match: image, Exec: enginetest.HelloTool, Run: enginetest.HelloTool, Attached: enginetest.HelloProcess})
		reg := fake.NewRegistry("registry.test:5000", "luma", "s3cret")
		h.UseRegistry(reg)
		return enginetest.Subject{
			Engine:   h,
			Sessions: h,
			Image:    image,
			Env: func(_ context.Context, name string) ([]string, error) {
				spec, _, ok := h.Spec(name)
				if !ok {
					return nil, fmt.Errorf("no container %s", name)
				}
				return spec.Env, nil
			},
			RemoveImage: func(context.Context, string) error { return nil },
			Registry:    &enginetest.Registry{Host: reg.Host(), User: "luma", Password: "s3cret"},
		}
	})
}
