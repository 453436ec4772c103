package setup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/luma-deploy/luma/drivers"
)

// ports are the host ports luma-proxy publishes: HTTP ones to its :80,
// HTTPS ones to its :443. One luma-proxy serves every project of a
// server, so it publishes the union of what they ask for.
type ports struct {
	http, https []int // sorted, unique
}

// parsePorts reads a port label: "8080", or "80,8080" since several
// projects share luma-proxy.
func parsePorts(label string) []int {
	var out []int
	for _, f := range strings.Split(label, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (p ports) add(http, https int) ports {
	out := ports{http: slices.Clone(p.http), https: slices.Clone(p.https)}
	if http > 0 {
		out.http = append(out.http, http)
	}
	if https > 0 {
		out.https = append(out.https, https)
	}
	slices.Sort(out.http)
	slices.Sort(out.https)
	out.http, out.https = slices.Compact(out.http), slices.Compact(out.https)
	return out
}

// equal tells whether p and q publish the same ports.
func (p ports) equal(q ports) bool {
	return slices.Equal(p.http, q.http) && slices.Equal(p.https, q.https)
}

func join(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// labels are the container's port labels.
func (p ports) labels() (http, https string) { return join(p.http), join(p.https) }

// specs are the container's published ports.
func (p ports) specs() []string {
	var out []string
	for _, n := range p.http {
		out = append(out, strconv.Itoa(n)+":80")
	}
	for _, n := range p.https {
		out = append(out, strconv.Itoa(n)+":443")
	}
	return out
}

// String words the ports: "port 80", "ports 80, 8080", "ports 80 (HTTP)
// and 443 (HTTPS)".
func (p ports) String() string {
	http := strings.ReplaceAll(join(p.http), ",", ", ")
	switch {
	case len(p.http) == 0:
		return "no port"
	case len(p.https) == 0 && len(p.http) == 1:
		return "port " + http
	case len(p.https) == 0:
		return "ports " + http
	}
	return fmt.Sprintf("ports %s (HTTP) and %s (HTTPS)", http, strings.ReplaceAll(join(p.https), ",", ", "))
}

// anotherProject names the owner of a port a luma-proxy too old to keep
// claims publishes.
const anotherProject = "another project"

// checkClaim refuses mine when it asks for a port another project's
// claim uses the other way (HTTP where it has HTTPS, or the reverse):
// luma-proxy cannot serve one port both ways.
func checkClaim(mine drivers.PortClaim, claims []drivers.PortClaim) error {
	for _, o := range claims {
		if o.Project == mine.Project {
			continue
		}
		var port int
		var theirs, ours string
		switch {
		case o.HTTPS > 0 && mine.HTTP == o.HTTPS:
			port, theirs, ours = mine.HTTP, "HTTPS", "HTTP"
		case mine.HTTPS > 0 && mine.HTTPS == o.HTTP:
			port, theirs, ours = mine.HTTPS, "HTTP", "HTTPS"
		default:
			continue
		}
		return fmt.Errorf("project %s asks luma-proxy for %s on port %d, which luma-proxy serves %s on for %s (%s): choose another port in proxy: of luma.yml (projects may share an HTTP port and an HTTPS port: luma-proxy routes by host name); nothing was changed",
			mine.Project, ours, port, theirs, projectWords(o.Project), o)
	}
	return nil
}

func projectWords(p string) string {
	if p == anotherProject {
		return p
	}
	return "project " + p
}

// claim records the project's ports in luma-proxy, for the next setup of
// any project on the server to publish and check against.
func claim(ctx context.Context, p drivers.PortClaims, opts Options) error {
	c := drivers.PortClaim{Project: opts.Project, HTTP: opts.HTTPPort, HTTPS: opts.HTTPSPort}
	if err := p.ClaimPorts(ctx, c); err != nil {
		return fmt.Errorf("record %s's ports in luma-proxy: %w", opts.Project, err)
	}
	return nil
}
