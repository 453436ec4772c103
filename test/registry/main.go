// Command registry is the container registry of the tests: go-containerregistry's
// in-memory registry behind HTTP basic auth, on 127.0.0.1 (the Docker
// Engine treats 127.0.0.0/8 registries as insecure, so plain HTTP works with
// no daemon configuration). It prints its address on stdout once it listens
// and runs until killed.
//
//	registry -addr 127.0.0.1:0 -user luma -password-env REGISTRY_PASSWORD [-also 10.231.1.1 ...]
//
// -also listens on more addresses with the same port: the host's ends of
// the test servers' network namespaces (test/servers), whose engines reach
// the registry through a forwarder on their own 127.0.0.1 (see -forward),
// so an image has one reference on the laptop and on every server:
//
//	registry -forward 127.0.0.1:PORT=10.231.1.1:PORT
//
// forwards TCP connections and prints its listening address. The password
// comes from an environment variable, never argv. Only 127.0.0.0/8 and the
// test servers' 10.231.0.0/16 are allowed, to listen or to forward to.
package main

import (
	"crypto/subtle"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
)

// addrs is a repeatable flag.
type addrs []string

func (a *addrs) String() string     { return strings.Join(*a, ",") }
func (a *addrs) Set(v string) error { *a = append(*a, v); return nil }

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (127.0.0.0/8 only)")
	user := flag.String("user", "luma", "user name")
	passEnv := flag.String("password-env", "REGISTRY_PASSWORD", "environment variable holding the password")
	forward := flag.String("forward", "", "LISTEN=TARGET: forward TCP connections instead of serving a registry")
	var also addrs
	flag.Var(&also, "also", "also listen on this IP (10.231.0.0/16 or 127.0.0.0/8), same port; repeatable")
	flag.Parse()
	if *forward != "" {
		listen, target, ok := strings.Cut(*forward, "=")
		if !ok {
			log.Fatalf("registry: -forward %q: want LISTEN=TARGET", *forward)
		}
		log.Fatal(forwardTCP(listen, target))
	}
	pass := os.Getenv(*passEnv)
	if pass == "" {
		log.Fatalf("registry: %s is empty", *passEnv)
	}
	if err := allowed(*addr); err != nil || !strings.HasPrefix(*addr, "127.") {
		log.Fatalf("registry: -addr %q: listen on 127.0.0.0/8 only", *addr)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	h := basicAuth(*user, pass, registry.New(registry.Logger(log.New(os.Stderr, "", log.LstdFlags))))
	for _, ip := range also {
		a := net.JoinHostPort(ip, port)
		if err := allowed(a); err != nil {
			log.Fatalf("registry: -also %q: %v", ip, err)
		}
		la, err := net.Listen("tcp", a)
		if err != nil {
			log.Fatal(err)
		}
		go func() { log.Fatal(http.Serve(la, h)) }()
	}
	// Printed once every listener is up: the caller may use them all.
	fmt.Println(l.Addr().String())
	log.Fatal(http.Serve(l, h))
}

// allowed refuses an address outside loopback and the test servers' links:
// the tests talk to nothing else.
func allowed(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	_, servers, _ := net.ParseCIDR("10.231.0.0/16")
	if ip == nil || !(ip.IsLoopback() && ip.To4() != nil || servers.Contains(ip)) {
		return fmt.Errorf("%s is neither in 127.0.0.0/8 nor in 10.231.0.0/16", host)
	}
	return nil
}

// basicAuth lets through only requests carrying user and pass; the rest
// get the 401 and WWW-Authenticate challenge a registry client expects.
func basicAuth(user, pass string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(user)) != 1 || subtle.ConstantTimeCompare([]byte(p), []byte(pass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="luma-test-registry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}
