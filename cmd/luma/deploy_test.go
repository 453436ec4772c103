package main

import (
	"strings"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/internal/config"
)

func TestHostClashes(t *testing.T) {
	apps := []*config.App{
		{Name: "web", Servers: []string{"s1", "s2"}, Proxy: &config.AppProxy{Hosts: []string{"shop.test", "www.shop.test"}}},
		{Name: "worker", Servers: []string{"s1"}},
	}
	routes := []drivers.Route{
		{App: "shop/web", Hosts: []string{"shop.test", "www.shop.test"}}, // its own route: no clash
		{App: "blog/web", Hosts: []string{"www.shop.test"}},
	}
	got := hostClashes("s1", "shop", apps, routes)
	if strings.Join(got, "|") != "[s1] host www.shop.test of shop/web is served by blog/web: take it out of one of them" {
		t.Fatalf("clashes %q", got)
	}
	if got := hostClashes("s3", "shop", apps, routes); len(got) != 0 {
		t.Fatalf("a server the app is not on: %q", got)
	}
}
