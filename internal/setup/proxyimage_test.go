package setup

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
)

// notLinux is a luma executable luma-proxy cannot run: a Mach-O from a
// Mac, say (anything that is not a Linux ELF binary).
func notLinux(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "luma")
	if err := os.WriteFile(p, []byte("\xcf\xfa\xed\xfe not an ELF binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// From a laptop whose luma cannot become luma-proxy, setup pulls the
// proxy image (proxy.image, or the published one of this version) with
// the project's registry credentials, and runs it.
func TestProxyImagePulledWhenTheBinaryCannotBeIt(t *testing.T) {
	ctx := context.Background()
	reg := fake.NewRegistry("127.0.0.1:5000", "ci", "s3cret")
	want := reg.Add("127.0.0.1:5000/luma-proxy:1.2.3")
	for name, o := range map[string]Options{
		"proxy.image": {ProxyImage: "127.0.0.1:5000/luma-proxy:1.2.3"},
		"published":   {DefaultProxyImage: "127.0.0.1:5000/luma-proxy:1.2.3"},
	} {
		t.Run(name, func(t *testing.T) {
			h := fake.NewHost("s1")
			h.UseRegistry(reg)
			o.Project, o.HTTPPort, o.Exe = "blog", 8080, notLinux(t)
			o.Registry = &drivers.RegistryAuth{Server: "127.0.0.1:5000", Username: "ci", Password: "s3cret"}
			var rep lines
			if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
				t.Fatalf("%v\n%s", err, rep.String())
			}
			c, err := h.Inspect(ctx, "luma-proxy")
			if err != nil || !c.Running() || c.Image != "127.0.0.1:5000/luma-proxy:1.2.3" {
				t.Fatalf("proxy %+v, %v", c, err)
			}
			if id, _ := h.ImageID(ctx, c.Image); id != want {
				t.Fatalf("image %s, want the registry's %s", id, want)
			}
			if !strings.Contains(rep.String(), "pulling 127.0.0.1:5000/luma-proxy:1.2.3") || strings.Contains(rep.String(), "s3cret") {
				t.Fatalf("lines:\n%s", rep.String())
			}
		})
	}
}

// When there is nothing to pull, or the pull is refused, setup says what
// to do, and nothing is started.
func TestProxyImageNothingToPull(t *testing.T) {
	ctx := context.Background()
	reg := fake.NewRegistry("127.0.0.1:5000", "ci", "s3cret")
	reg.Add("127.0.0.1:5000/luma-proxy:1.2.3")
	for name, tc := range map[string]struct {
		o    Options
		want string
	}{
		"development build": {Options{}, "this development build of luma has no published luma-proxy image"},
		"wrong password": {Options{ProxyImage: "127.0.0.1:5000/luma-proxy:1.2.3",
			Registry: &drivers.RegistryAuth{Server: "127.0.0.1:5000", Username: "ci", Password: "wrong"}}, "pull the luma-proxy image 127.0.0.1:5000/luma-proxy:1.2.3"},
		"missing": {Options{ProxyImage: "127.0.0.1:5000/luma-proxy:9.9.9"}, "pull the luma-proxy image 127.0.0.1:5000/luma-proxy:9.9.9"},
	} {
		t.Run(name, func(t *testing.T) {
			h := fake.NewHost("s1")
			h.UseRegistry(reg)
			o := tc.o
			o.Project, o.HTTPPort, o.Exe = "blog", 8080, notLinux(t)
			var rep lines
			err := Server(ctx, "s1", h, h, o, &rep)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			for _, remedy := range []string{"CGO_ENABLED=0 GOOS=linux", "set proxy.image in luma.yml"} {
				if !strings.Contains(err.Error(), remedy) {
					t.Errorf("error %q lacks the remedy %q", err, remedy)
				}
			}
			if strings.Contains(err.Error(), "wrong") && name == "wrong password" {
				t.Errorf("error %q shows the password", err)
			}
			if h.Calls("Create") != 0 {
				t.Fatal("something was created")
			}
		})
	}
}

func TestPublishedProxyImage(t *testing.T) {
	for in, want := range map[string]string{
		"v1.2.3": "ghcr.io/luma-deploy/luma-proxy:1.2.3", "0.4.0": "ghcr.io/luma-deploy/luma-proxy:0.4.0",
		"dev": "", "dev-117addd78b0a": "", "117addd-dirty": "", "v1.2": "", "v1.2.3-rc1": "",
	} {
		if got := PublishedProxyImage(in); got != want {
			t.Errorf("PublishedProxyImage(%q) = %q, want %q", in, got, want)
		}
	}
}
