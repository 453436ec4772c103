package drivers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// RegistryAuth is the credentials of one registry, passed per call (the
// Engine API's X-Registry-Auth header): never written to the server's
// ~/.docker, never logged. Password is a secret: never print it.
type RegistryAuth struct {
	Server   string // host[:port], e.g. ghcr.io or 127.0.0.1:5000
	Username string
	Password string
}

// String names the registry and user, never the password.
func (a *RegistryAuth) String() string {
	if a == nil {
		return "anonymous"
	}
	return a.Username + "@" + a.Server
}

// For returns a when ref lives on a's registry, else nil: credentials go
// only to the registry they belong to.
func (a *RegistryAuth) For(ref string) *RegistryAuth {
	if a == nil {
		return nil
	}
	host, err := RegistryHost(ref)
	if err != nil || host != NormalizeRegistry(a.Server) {
		return nil
	}
	return a
}

// RegistryHost is the registry ref is pulled from: docker.io for
// Docker Hub's short names (nginx:1.27), else the host[:port] it names.
func RegistryHost(ref string) (string, error) {
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	return reference.Domain(n), nil
}

// NormalizeRegistry maps Docker Hub's many names to docker.io, the name
// RegistryHost gives it.
func NormalizeRegistry(server string) string {
	s := strings.ToLower(strings.TrimSuffix(server, "/"))
	switch s {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return server
}

// Why a registry refused an image.
var (
	ErrImageNotFound     = errors.New("not found")
	ErrUnauthorized      = errors.New("unauthorized")
	ErrRegistryUnreached = errors.New("unreachable")
)

// RegistryError is a pull, push or check that a registry refused, with
// the reason classified: errors.Is(err, ErrImageNotFound),
// ErrUnauthorized or ErrRegistryUnreached; else Reason is nil and Err
// says it all. It never holds credentials.
type RegistryError struct {
	Op       string // pull, push, check
	Image    string
	Registry string
	Reason   error // one of the three above, or nil
	Err      error // the engine's message
}

func (e *RegistryError) Error() string {
	var why string
	switch e.Reason {
	case ErrImageNotFound:
		why = "not found: the registry has no such repository or tag"
	case ErrUnauthorized:
		why = "unauthorized: check registry.username and the password secret in luma.yml and .luma/secrets"
	case ErrRegistryUnreached:
		why = "unreachable: the server cannot reach the registry"
	default:
		why = "failed"
	}
	return fmt.Sprintf("%s %s from registry %s: %s (%v)", e.Op, e.Image, e.Registry, why, e.Err)
}

func (e *RegistryError) Unwrap() []error {
	if e.Reason == nil {
		return []error{e.Err}
	}
	return []error{e.Reason, e.Err}
}

// ClassifyRegistry turns an engine's message about a registry into a
// reason: ErrImageNotFound, ErrUnauthorized, ErrRegistryUnreached or nil.
func ClassifyRegistry(msg string) error {
	m := strings.ToLower(msg)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(m, w) {
				return true
			}
		}
		return false
	}
	switch {
	// Docker Hub answers a missing repository and a private one alike.
	case has("manifest unknown", "name unknown", "repository does not exist", "not found", "no such image"):
		return ErrImageNotFound
	case has("unauthorized", "authentication required", "no basic auth credentials", "incorrect username or password", "denied", "401", "403 forbidden"):
		return ErrUnauthorized
	case has("connection refused", "no such host", "i/o timeout", "dial tcp", "network is unreachable",
		"no route to host", "tls handshake", "timeout exceeded", "deadline exceeded", "connection reset",
		"server gave http response to https client", "eof"):
		return ErrRegistryUnreached
	}
	return nil
}

// Progress is how far a pull or push is: Bytes of Total (0 when the
// engine has not said) over Layers layers, Done of them finished.
type Progress struct {
	Bytes, Total int64
	Layers, Done int
}

type progressKey struct{}

// WithProgress returns ctx carrying fn, which a PullImage or PushImage
// called with it reports its progress to, from its own goroutine.
func WithProgress(ctx context.Context, fn func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// ProgressFunc is the fn of WithProgress, or one that does nothing.
func ProgressFunc(ctx context.Context) func(Progress) {
	if fn, ok := ctx.Value(progressKey{}).(func(Progress)); ok && fn != nil {
		return fn
	}
	return func(Progress) {}
}
