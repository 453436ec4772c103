package steps

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
)

// A prune on the server between the look at its layers and the load
// removes a layer the tar left out: the load fails, and the whole image
// is sent once, saying why; the deploy goes on.
func TestSendWholeWhenALayerLeft(t *testing.T) {
	e := newEnv(t, 1)
	server := e.hosts[0]
	base := fake.Layer{Chain: "sha256:0123456789abcdef", Size: 99_000_000}
	e.source.AddImage("blog:r1")
	e.source.SetLayers("blog:r1", base, fake.Layer{Chain: "base+app1", Size: 1_000_000})
	// Another app's image, which no container uses, holds the base.
	server.AddImage("other:1")
	server.SetLayers("other:1", base)
	server.Inject(fake.Fault{Op: "LoadImage", Nth: 1, Pass: true, Do: func() {
		if err := server.RemoveImage(context.Background(), "other:1"); err != nil {
			t.Errorf("prune during the send: %v", err)
		}
	}})
	e.mustDeploy("r1", naming.Blue)
	for _, line := range []string{
		"[server1] Sending image blog:r1 to the server: 1.0 MB of 100.0 MB (layers the server lacks)...",
		"[server1] Layer 0123456789ab of blog:r1 left the server during the send (pruned meanwhile): sending the whole image",
		"[server1] Sending image blog:r1 to the server: 100.0 MB of 100.0 MB (layers the server lacks)...",
		"[server1] Sent image blog:r1: 100.0 MB in ",
	} {
		if !e.out.has(line) {
			t.Errorf("output lacks %q:\n%s", line, e.out.text())
		}
	}
	if n := server.Calls("LoadImage"); n != 2 {
		t.Errorf("%d loads, want the diff and the whole image", n)
	}
	want, _ := e.source.ImageID(bg, "blog:r1")
	if got, _ := server.ImageID(bg, "blog:r1"); got != want {
		t.Errorf("server has %q, want %q", got, want)
	}
}

// A load that fails for another reason, every layer left out still on
// the server, is not sent again: the deploy fails and rolls back.
func TestSendFailsWithoutLayerLeft(t *testing.T) {
	e := newEnv(t, 1)
	server := e.hosts[0]
	base := fake.Layer{Chain: "base", Size: 99_000_000}
	e.source.AddImage("blog:r1")
	e.source.SetLayers("blog:r1", base, fake.Layer{Chain: "base+app1", Size: 1_000_000})
	server.AddImage("other:1")
	server.SetLayers("other:1", base)
	server.Inject(fake.Fault{Op: "LoadImage", Err: errors.New("no space left on device")})
	if _, err := e.deploy(bg, "r1"); err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("deploy: %v, want the load's failure\n%s", err, e.out.text())
	}
	if n := server.Calls("LoadImage"); n != 1 {
		t.Errorf("%d loads, want 1", n)
	}
	if strings.Contains(e.out.text(), "whole image") {
		t.Errorf("sent the whole image after a failure that was not a missing layer:\n%s", e.out.text())
	}
}
