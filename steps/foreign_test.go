package steps

import (
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/naming"
)

// A container named like the new color that luma did not make for this
// app (a foreign one, or another project's app of the same name) fails the
// deploy with a clear line and is never removed by the rollback.
func TestForeignContainerIsLeftAlone(t *testing.T) {
	for name, labels := range map[string]map[string]string{
		"foreign":       {"owner": "someone"},
		"other project": {naming.LabelProject: "other", naming.LabelApp: "blog", naming.LabelColor: naming.Green},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 1)
			h := e.hosts[0]
			e.mustDeploy("r1", naming.Blue)
			h.AddImage("other:1")
			if err := h.Create(bg, drivers.ContainerSpec{Name: "shop-blog-green", Image: "other:1", Labels: labels}); err != nil {
				t.Fatal(err)
			}
			if err := h.Start(bg, "shop-blog-green"); err != nil {
				t.Fatal(err)
			}
			foreign, _ := h.Inspect(bg, "shop-blog-green")
			e.out.reset()
			_, err := e.deploy(bg, "r2")
			if err == nil || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("deploy: %v", err)
			}
			for _, line := range []string{
				"[server1] Failed to create container shop-blog-green: a container named shop-blog-green already exists and was not made by luma for shop/blog: rename or remove it",
				"[server1] Leaving shop-blog-green in place: it was not made by luma for shop/blog",
			} {
				if !e.out.has(line) {
					t.Errorf("no line %q:\n%s", line, e.out.text())
				}
			}
			if c, err := h.Inspect(bg, "shop-blog-green"); err != nil || c.ID != foreign.ID || !c.Running() {
				t.Fatalf("the foreign container was touched: %+v %v", c, err)
			}
			h.Remove(bg, "shop-blog-green")
			e.serving(h, naming.Blue, "r1")
		})
	}
}

// An image that neither the server nor the local engine has fails the
// deploy before any container is made, with the spec's create line.
func TestImageNowhere(t *testing.T) {
	e := newEnv(t, 2)
	h := e.hosts[0]
	e.mustDeploy("r1", naming.Blue)
	e.out.reset()
	app := e.release("r2")
	app.Image = "blog:missing"
	_, err := Deploy(bg, app, e.servers(), e.out, Options{Holder: e.holder, Now: h.Clock().Now})
	if err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("deploy: %v", err)
	}
	for _, n := range []string{"shop-blog-green-1", "shop-blog-green-2"} {
		line := "[server1] Failed to create container " + n + ": image blog:missing is not on server1, nor on the local engine to send it from"
		if !e.out.has(line) {
			t.Errorf("no line %q:\n%s", line, e.out.text())
		}
	}
	if e.out.has("[server1] Sending image blog:missing") {
		t.Error("luma said it sends an image it does not have")
	}
	e.serving(h, naming.Blue, "r1")
}
