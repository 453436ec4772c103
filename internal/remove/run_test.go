package remove

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/config"
)

// Run removes each app from its own servers at once, keeps every server's
// error, and stops at the first app it could not remove everywhere.
func TestRunAppsInOrderEveryServerError(t *testing.T) {
	cfg, err := config.Parse("luma.yml", []byte(`name: shop
apps:
  web:
    image: web:1
    servers: [s1, s2]
  api:
    image: api:1
    servers: [s2]
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s1, s2 := fake.NewHost("s1"), fake.NewHost("s2")
	s2.Lock(ctx, "shop/web", "bob@ci pid 8", time.Minute) // a deploy runs there
	apps := []*config.App{&cfg.Apps[0], &cfg.Apps[1]}
	err = Run(ctx, RunOptions{
		Config: cfg, Apps: apps, Limit: 2, Out: discardReporter{},
		Servers: []Target{{Name: "s1", Engine: s1, Proxy: s1}, {Name: "s2", Engine: s2, Proxy: s2}},
		Options: Options{Holder: "alice@laptop pid 1", Lease: time.Minute},
	})
	var failed *AppError
	var held *drivers.LockedError
	if !errors.As(err, &failed) || failed.App != "web" || !errors.As(err, &held) || !strings.Contains(err.Error(), "[s2] ") || strings.Contains(err.Error(), "[s1]") {
		t.Fatalf("err %v", err)
	}
	if s2.Calls("Forget") != 0 {
		t.Fatal("api was removed after web failed")
	}
}

type discardReporter struct{}

func (discardReporter) Printf(string, string, ...any) {}
