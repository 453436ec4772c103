package proxy

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/luma-deploy/luma/drivers"
)

// normalizeRoute checks a route and puts its hosts in the form requests are
// matched with: lower case, no port, no trailing dot, no duplicates.
func normalizeRoute(r drivers.Route) (drivers.Route, error) {
	out := drivers.Route{
		App: strings.TrimSpace(r.App), HealthPath: r.HealthPath,
		MaxBodySize: r.MaxBodySize, UpstreamIdleTimeout: r.UpstreamIdleTimeout,
	}
	if r.TLS != nil {
		t := *r.TLS
		t.Peers = slices.Clone(t.Peers)
		if t.ACME != nil {
			a := *t.ACME
			t.ACME = &a
			if a.Directory == "" {
				return out, fmt.Errorf("route %s: ACME needs a directory URL", out.App)
			}
		}
		out.TLS = &t
	}
	if out.App == "" {
		return out, fmt.Errorf("route has no app name")
	}
	if out.MaxBodySize < 0 || out.UpstreamIdleTimeout < 0 {
		return out, fmt.Errorf("route %s: max_body_size and upstream_idle_timeout cannot be negative", out.App)
	}
	if out.HealthPath != "" && !strings.HasPrefix(out.HealthPath, "/") {
		return out, fmt.Errorf("route %s: health path %q must start with /", out.App, out.HealthPath)
	}
	for _, h := range r.Hosts {
		host, err := normalizeRouteHost(h)
		if err != nil {
			return out, fmt.Errorf("route %s: %w", out.App, err)
		}
		if !slices.Contains(out.Hosts, host) {
			out.Hosts = append(out.Hosts, host)
		}
	}
	for _, t := range r.Targets {
		if err := checkTarget(t); err != nil {
			return out, fmt.Errorf("route %s: %w", out.App, err)
		}
		if !slices.Contains(out.Targets, t) {
			out.Targets = append(out.Targets, t)
		}
	}
	return out, nil
}

func normalizeRouteHost(h string) (string, error) {
	host := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
	if host == "" {
		return "", fmt.Errorf("empty host name")
	}
	if strings.ContainsAny(host, " /:@?#") {
		return "", fmt.Errorf("host %q: give a bare host name such as blog.example.com (no scheme, port or path)", h)
	}
	return host, nil
}

// checkTarget accepts "name:port", the container's name on the project
// network and the port its app listens on.
func checkTarget(t string) error {
	host, port, err := net.SplitHostPort(t)
	if err != nil || host == "" {
		return fmt.Errorf("target %q: want container:port", t)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("target %q: port must be a number from 1 to 65535", t)
	}
	return nil
}

// requestHost is the host a request is routed by: the Host header without
// its port, lower case, without a trailing dot.
func requestHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), ".")
	return strings.ToLower(host)
}
