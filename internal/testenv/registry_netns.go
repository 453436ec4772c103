package testenv

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
)

// Namespace is a test server's network namespace (test/servers): Name as
// in /run/netns, Host the host's end of its link, the one address the
// server can reach.
type Namespace struct{ Name, Host string }

// ServeNamespaces makes the registry answer at 127.0.0.1:PORT inside each
// namespace, as on the host: a forwarder (test/registry -forward) runs in
// the namespace from its 127.0.0.1:PORT to Host:PORT, where the registry
// also listens (StartRegistry's also). So an image has one reference for
// the laptop's engine that pushes and the servers' engines that pull, and
// every engine treats it as the insecure loopback registry it is, with no
// daemon configuration. Stop ends the forwarders.
func (r *Registry) ServeNamespaces(ns ...Namespace) error {
	_, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return err
	}
	for _, n := range ns {
		listen := net.JoinHostPort("127.0.0.1", port)
		cmd := exec.Command("nsenter", "--net=/run/netns/"+n.Name, r.bin, "-forward", listen+"="+net.JoinHostPort(n.Host, port))
		if _, err := startPrinting(cmd); err != nil {
			return fmt.Errorf("forwarder in %s: %w", n.Name, err)
		}
		r.forwards = append(r.forwards, cmd)
	}
	return nil
}

// NewNamespaceRegistry starts a registry for the test that answers at the
// same 127.0.0.1:PORT on the host and in each namespace; all of it stops
// at cleanup. Needs root (nsenter).
func NewNamespaceRegistry(t testing.TB, ns ...Namespace) *Registry {
	t.Helper()
	SkipShort(t, "a registry and test servers")
	var hosts []string
	for _, n := range ns {
		hosts = append(hosts, n.Host)
	}
	r, err := StartRegistry(t.TempDir(), hosts...)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(r.Stop)
	if err := r.ServeNamespaces(ns...); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return r
}
