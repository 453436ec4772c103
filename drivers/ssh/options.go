// Package ssh holds one SSH connection per server: host-key verification
// against known_hosts, key or agent auth, a tunnel to the remote Docker
// socket, keepalives, and a PTY session held open so that sshd turns on
// TCP_NODELAY for the whole connection.
package ssh

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Options says how to reach one server.
type Options struct {
	Host            string
	Port            int    // 22 when zero
	User            string // current user when empty
	KeyFile         string // private key; agent and ~/.ssh/id_* when empty
	KnownHosts      string // ~/.ssh/known_hosts when empty
	TrustOnFirstUse bool   // record the key of an unknown host instead of failing
	Timeout         time.Duration
}

const defaultTimeout = 10 * time.Second

func (o Options) withDefaults() Options {
	if o.Port == 0 {
		o.Port = 22
	}
	if o.User == "" {
		o.User = currentUser()
	}
	if o.KnownHosts == "" {
		o.KnownHosts = filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	return o
}

// Addr is host:port as dialled and as written in known_hosts.
func (o Options) Addr() string {
	port := o.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(o.Host, strconv.Itoa(port))
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

func currentUser() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := os.Getenv(k); u != "" {
			return u
		}
	}
	return "root"
}
