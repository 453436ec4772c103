// Command registry is the container registry of the tests: go-containerregistry's
// in-memory registry behind HTTP basic auth, on 127.0.0.1 only (the Docker
// Engine treats 127.0.0.0/8 registries as insecure, so plain HTTP works with
// no daemon configuration). It prints its address on stdout once it listens
// and runs until killed.
//
//	registry -addr 127.0.0.1:0 -user luma -password-env REGISTRY_PASSWORD
//
// The password comes from an environment variable, never argv.
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

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (127.0.0.1 only)")
	user := flag.String("user", "luma", "user name")
	passEnv := flag.String("password-env", "REGISTRY_PASSWORD", "environment variable holding the password")
	flag.Parse()
	pass := os.Getenv(*passEnv)
	if pass == "" {
		log.Fatalf("registry: %s is empty", *passEnv)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !strings.HasPrefix(host, "127.") {
		log.Fatalf("registry: -addr %q: listen on 127.0.0.0/8 only", *addr)
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.Addr().String())
	h := basicAuth(*user, pass, registry.New(registry.Logger(log.New(os.Stderr, "", log.LstdFlags))))
	log.Fatal(http.Serve(l, h))
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
