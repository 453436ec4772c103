package setup

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/drivers/fake"
	"github.com/luma-deploy/luma/internal/naming"
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

// An image neither the server nor the local engine has is pulled by the
// server: anonymously from Docker Hub, with the project's credentials
// from its registry; one that exists nowhere fails, naming the image, the
// registry and why, before the container is created.
func TestServiceImagePulled(t *testing.T) {
	ctx := context.Background()
	hub, private := fake.NewRegistry("docker.io", "", ""), fake.NewRegistry("reg.test:5000", "deploy", "pw")
	hub.Add("postgres:16")
	private.Add("reg.test:5000/cache:7")
	h := fake.NewHost("s1")
	h.UseRegistry(hub, private)
	auth := &drivers.RegistryAuth{Server: "reg.test:5000", Username: "deploy", Password: "pw"}
	cache := Service{Project: "blog", Name: "cache", Image: "reg.test:5000/cache:7", Registry: auth}
	pg := db()
	pg.Registry = auth
	h.EnsureNetwork(ctx, naming.Network("blog"), nil)
	var rep lines
	if err := Services(ctx, "s1", h, fake.NewHost("local"), []Service{pg, cache}, false, &rep); err != nil {
		t.Fatalf("%v\n%s", err, rep.String())
	}
	for _, ref := range []string{"postgres:16", "reg.test:5000/cache:7"} {
		if !strings.Contains(rep.String(), "Pulling "+ref+" on the server...") {
			t.Errorf("no pull line for %s:\n%s", ref, rep.String())
		}
	}
	if c := hub.Calls(); len(c) != 1 || c[0].Auth != nil {
		t.Errorf("Docker Hub calls %+v, want one anonymous pull", c)
	}
	if c := private.Calls(); len(c) != 1 || c[0].Auth == nil || c[0].Auth.Password != "pw" {
		t.Errorf("private registry calls %+v, want one pull with the credentials", c)
	}
	if len(h.Containers()) != 2 || len(h.Violations()) > 0 {
		t.Errorf("containers %v, violations %v", h.Containers(), h.Violations())
	}

	h = fake.NewHost("s1")
	h.UseRegistry(hub)
	missing := db()
	missing.Image = "postgres:99"
	err := Services(ctx, "s1", h, nil, []Service{missing}, false, &lines{})
	if !errors.Is(err, drivers.ErrImageNotFound) || !strings.Contains(err.Error(), "postgres:99 from registry docker.io: not found") {
		t.Fatalf("err = %v", err)
	}
	if h.Calls("Create") != 0 {
		t.Error("a container was created for an image that exists nowhere")
	}
}

// A service's named volume carries the project; one its container made
// before that mounts under the old name keeps it when recreated: a
// database never starts on an empty volume beside its data.
func TestServiceVolumes(t *testing.T) {
	h, local := fake.NewHost("s1"), fake.NewHost("local")
	local.AddImage("postgres:16")
	ctx := context.Background()
	var rep lines
	Server(ctx, "s1", h, h, opts(h, 8080), &rep)
	if err := Services(ctx, "s1", h, local, []Service{db()}, false, &rep); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Inspect(ctx, "blog-db"); c.Volumes["/var/lib/postgresql/data"] != "blog-pg" {
		t.Fatalf("new service mounts %v, want blog-pg", c.Volumes)
	}

	// As a luma before it made it: the volume named pg.
	h.Remove(ctx, "blog-db")
	h.Create(ctx, drivers.ContainerSpec{Name: "blog-db", Image: "postgres:16", Volumes: []string{"pg:/var/lib/postgresql/data"},
		Labels: map[string]string{naming.LabelProject: "blog", naming.LabelService: "db", naming.LabelConfig: "old"}})
	h.Start(ctx, "blog-db")
	rep = lines{}
	if err := Services(ctx, "s1", h, local, []Service{db()}, true, &rep); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Inspect(ctx, "blog-db"); c.Volumes["/var/lib/postgresql/data"] != "pg" || !strings.Contains(rep.String(), "Volume pg keeps its name") {
		t.Fatalf("recreated service mounts %v\n%s", c.Volumes, rep.String())
	}
}
