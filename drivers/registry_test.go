package drivers

import (
	"errors"
	"strings"
	"testing"
)

// The engine's messages, as Docker 20.10 words them, map to a reason.
func TestClassifyRegistry(t *testing.T) {
	for msg, want := range map[string]error{
		`manifest for 127.0.0.1:5000/x:2 not found: manifest unknown: manifest unknown`:                    ErrImageNotFound,
		`pull access denied for nope, repository does not exist or may require 'docker login'`:             ErrImageNotFound,
		`Head "http://127.0.0.1:5000/v2/x/manifests/1": no basic auth credentials`:                         ErrUnauthorized,
		`Get "http://127.0.0.1:5000/v2/": unauthorized: authentication required`:                           ErrUnauthorized,
		`Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`:                  ErrRegistryUnreached,
		`Get "https://nowhere.invalid/v2/": dial tcp: lookup nowhere.invalid on 10.0.0.1:53: no such host`: ErrRegistryUnreached,
		`something else entirely`: nil,
	} {
		if got := ClassifyRegistry(msg); got != want {
			t.Errorf("ClassifyRegistry(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestRegistryAuthFor(t *testing.T) {
	a := &RegistryAuth{Server: "127.0.0.1:5000", Username: "u", Password: "p"}
	for ref, want := range map[string]bool{
		"127.0.0.1:5000/team/app:1": true, "127.0.0.1:5000/app@sha256:" + strings.Repeat("a", 64): true,
		"127.0.0.1:5001/app:1": false, "nginx:1.27": false, "ghcr.io/127.0.0.1:5000/x": false, "not a ref!": false,
	} {
		if got := a.For(ref) != nil; got != want {
			t.Errorf("For(%q) = %v, want %v", ref, got, want)
		}
	}
	hub := &RegistryAuth{Server: "index.docker.io"}
	if hub.For("nginx:1.27") == nil || hub.For("library/nginx") == nil || hub.For("ghcr.io/x/y") != nil {
		t.Error("Docker Hub's names")
	}
	var none *RegistryAuth
	if none.For("nginx") != nil || none.String() != "anonymous" || strings.Contains(a.String(), "p@") {
		t.Error("nil auth or String")
	}
	err := &RegistryError{Op: "pull", Image: "x", Registry: "r", Reason: ErrUnauthorized, Err: errors.New("denied")}
	if !errors.Is(err, ErrUnauthorized) || !strings.HasPrefix(err.Error(), "pull x from registry r: unauthorized") {
		t.Errorf("RegistryError: %v", err)
	}
}
