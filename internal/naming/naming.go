// Package naming owns the names Luma gives things on a server and in
// luma-proxy: the project network, container names, labels, colors, lock
// keys and the lock holder. Every package asks it, so no name or label is
// spelled twice.
package naming

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// Labels Luma puts on what it creates. They never change on a running
// container, so none says which color is active (the deploy record and
// the route do).
const (
	LabelProject  = "luma.project"   // every container and network of a project
	LabelApp      = "luma.app"       // app containers
	LabelColor    = "luma.color"     // app containers: blue or green
	LabelReplica  = "luma.replica"   // app containers: 1..N
	LabelRelease  = "luma.release"   // app containers and images built by luma
	LabelService  = "luma.service"   // service containers
	LabelConfig   = "luma.config"    // service containers: digest of what they were made from
	LabelRole     = "luma.role"      // luma-proxy's container and image
	LabelHTTPPort = "luma.http_port" // luma-proxy's container: the host port it publishes
	// LabelHTTPSPort is the host port luma-proxy publishes for HTTPS
	// ("" when no app of the project is served over HTTPS).
	LabelHTTPSPort = "luma.https_port"
	// LabelProxyRevision is the revision of the proxy code luma-proxy's
	// container was created with (an upgrade in place may run a newer
	// one: ask the proxy); LabelProxySupervised is the revision of the
	// supervisor, PID 1 of a container that can be upgraded in place.
	LabelProxyRevision   = "luma.proxy_revision"
	LabelProxySupervised = "luma.proxy_supervised"
)

// RoleProxy is the LabelRole of luma-proxy.
const RoleProxy = "proxy"

// Colors of an app's two sets of containers.
const (
	Blue  = "blue"
	Green = "green"
)

// Other is the color that is not color.
func Other(color string) string {
	if color == Blue {
		return Green
	}
	return Blue
}

// ProxyContainer is the name of luma-proxy's container on every server,
// and ProxyVolume the volume that keeps its state across replacements.
const (
	ProxyContainer = "luma-proxy"
	ProxyVolume    = "luma-proxy-state"
	// ProxyNetwork is luma-proxy's own network, the one it is created
	// on; it joins each project's network besides.
	ProxyNetwork = "luma-proxy"
)

// Network is the project's network: its apps, services and luma-proxy.
func Network(project string) string { return project + "-network" }

// Key names an app in luma-proxy: its deploy lock, route and record.
func Key(project, app string) string { return project + "/" + app }

// AppContainers are the names of an app's replicas of one color:
// shop-blog-blue for one replica, shop-blog-blue-1..N for several. The
// spec names them {app}-{color}; the project is in front so that two
// projects with a `web` can share a server (docs/names.md). Containers
// made before are found by their labels and replaced by the next deploy.
func AppContainers(project, app, color string, replicas int) []string {
	base := project + "-" + app + "-" + color
	if replicas <= 1 {
		return []string{base}
	}
	names := make([]string, replicas)
	for i := range names {
		names[i] = base + "-" + strconv.Itoa(i+1)
	}
	return names
}

// ServiceContainer is the container of a project's service.
func ServiceContainer(project, service string) string { return project + "-" + service }

// Holder says who holds a deploy lock, for whoever meets it:
// user@host pid N.
func Holder() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}
