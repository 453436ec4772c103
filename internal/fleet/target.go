// Package fleet connects to the servers a config names: one Docker Engine
// connection per server (local socket or over SSH) and its luma-proxy.
package fleet

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/luma-deploy/luma/drivers/docker"
	"github.com/luma-deploy/luma/drivers/ssh"
	"github.com/luma-deploy/luma/internal/config"
)

// Local is the server name that means the local Docker engine, no SSH.
const Local = "localhost"

// Target turns a servers entry, "[user@]host[:port]", into how to reach it,
// with the project's ssh settings as defaults.
func Target(entry string, def config.SSH) (docker.Target, error) {
	t := docker.Target{Server: entry}
	if entry == Local {
		return t, nil
	}
	opts := ssh.Options{User: def.User, Port: def.Port, KeyFile: def.Key, KnownHosts: def.KnownHosts, TrustOnFirstUse: def.TrustOnFirstUse}
	hostport := entry
	if at := strings.LastIndex(entry, "@"); at >= 0 {
		opts.User, hostport = entry[:at], entry[at+1:]
	}
	host := hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return t, fmt.Errorf("server %q: bad port %q", entry, p)
		}
		host, opts.Port = h, port
	}
	opts.Host = strings.Trim(host, "[]")
	if opts.Port == 0 {
		opts.Port = 22
	}
	if opts.User == "" {
		opts.User = "root"
	}
	t.SSH = opts
	return t, nil
}
