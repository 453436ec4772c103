package setup

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/fake"
)

func db() Service {
	return Service{
		Project: "blog", Name: "db", Image: "postgres:16",
		Env:      []string{"POSTGRES_USER=app", "POSTGRES_PASSWORD=s3cret-value"},
		PlainEnv: []string{"POSTGRES_USER=app"}, SecretNames: []string{"POSTGRES_PASSWORD"},
		Volumes: []string{"pg:/var/lib/postgresql/data"}, Ports: []string{"127.0.0.1:5432:5432"},
	}
}

func TestServicesStartThenStayUp(t *testing.T) {
	h, local := fake.NewHost("s1"), fake.NewHost("local")
	local.AddImage("postgres:16")
	ctx := context.Background()
	var rep lines
	if err := Server(ctx, "s1", h, h, opts(h, 8080), &rep); err != nil {
		t.Fatal(err)
	}
	if err := Services(ctx, "s1", h, local, []Service{db()}, false, &rep); err != nil {
		t.Fatal(err)
	}
	c, err := h.Inspect(ctx, "blog-db")
	if err != nil || !c.Running() {
		t.Fatalf("blog-db = %+v, %v", c, err)
	}
	if got := c.Networks["blog-network"]; len(got) != 1 || got[0] != "db" {
		t.Fatalf("aliases on blog-network = %v, want [db]", got)
	}
	for k, v := range c.Labels {
		if strings.Contains(v, "s3cret") {
			t.Fatalf("label %s carries a secret value", k)
		}
	}
	if ok, _ := h.HasImage(ctx, "postgres:16"); !ok {
		t.Fatal("image was not sent to the server")
	}
	creates := h.Calls("Create")
	rep = lines{}
	if err := Services(ctx, "s1", h, local, []Service{db()}, false, &rep); err != nil {
		t.Fatal(err)
	}
	if h.Calls("Create") != creates || !strings.Contains(rep.String(), "Service db is up to date") {
		t.Fatalf("second run changed something:\n%s", rep.String())
	}
	h.Stop(ctx, "blog-db", time.Second)
	rep = lines{}
	Services(ctx, "s1", h, local, []Service{db()}, false, &rep)
	if c, _ := h.Inspect(ctx, "blog-db"); !c.Running() || h.Calls("Create") != creates {
		t.Fatalf("stopped service not started again in place:\n%s", rep.String())
	}
}

func TestServiceChangedIsRecreatedOnlyWhenAsked(t *testing.T) {
	h, local := fake.NewHost("s1"), fake.NewHost("local")
	local.AddImage("postgres:16")
	ctx := context.Background()
	var rep lines
	Server(ctx, "s1", h, h, opts(h, 8080), &rep)
	if err := Services(ctx, "s1", h, local, []Service{db()}, false, &rep); err != nil {
		t.Fatal(err)
	}
	before, _ := h.Inspect(ctx, "blog-db")
	changed := db()
	changed.Cmd = []string{"postgres", "-c", "max_connections=200"}
	rep = lines{}
	if err := Services(ctx, "s1", h, local, []Service{changed}, false, &rep); err != nil {
		t.Fatal(err)
	}
	if now, _ := h.Inspect(ctx, "blog-db"); now.ID != before.ID || !strings.Contains(rep.String(), "--restart-services") {
		t.Fatalf("changed service recreated without being asked:\n%s", rep.String())
	}
	rep = lines{}
	if err := Services(ctx, "s1", h, local, []Service{changed}, true, &rep); err != nil {
		t.Fatal(err)
	}
	now, _ := h.Inspect(ctx, "blog-db")
	if now.ID == before.ID || !now.Running() || !strings.Contains(rep.String(), "Recreating service db") {
		t.Fatalf("service not recreated with restart:\n%s", rep.String())
	}
}

func TestServiceImageNowhere(t *testing.T) {
	h := fake.NewHost("s1")
	err := Services(context.Background(), "s1", h, nil, []Service{db()}, false, &lines{})
	if err == nil || !strings.Contains(err.Error(), "postgres:16 is not on s1") {
		t.Fatalf("err = %v", err)
	}
}
