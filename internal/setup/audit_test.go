package setup

import (
	"context"
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers/fake"
)

// Each setup that succeeds leaves an event saying what it did to
// luma-proxy; a dry run leaves none.
func TestSetupIsAudited(t *testing.T) {
	h := fake.NewHost("s1")
	ctx := context.Background()
	var rep lines
	o := opts(h, 8080)
	o.Holder, o.Revision = "alice@laptop pid 9 (setup)", 3
	for range 2 {
		if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
			t.Fatal(err)
		}
	}
	o.DryRun = true
	if err := Server(ctx, "s1", h, h, o, &rep); err != nil {
		t.Fatal(err)
	}
	events, _ := h.Events(ctx, "blog")
	var got []string
	for _, e := range events {
		got = append(got, e.Kind+" "+e.Who+" "+e.Outcome+": "+e.Detail)
	}
	want := "setup alice@laptop ok: started luma-proxy on port 8080\nsetup alice@laptop ok: luma-proxy was up to date (revision 3)"
	if strings.Join(got, "\n") != want {
		t.Fatalf("history\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}
