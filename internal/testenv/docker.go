// Package testenv holds helpers for end-to-end tests against the real
// Docker Engine and a real sshd: connecting, per-test labels and cleanup,
// and the hello test image.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers/docker"
)

// TestLabel marks every container and network a test creates.
const TestLabel = "luma.test"

// Docker connects to the local Engine and closes it at cleanup. An
// unreachable Engine fails the test: CI starts dockerd, so a skip would
// hide a broken setup. Under -short (`make unit`) the test is skipped.
func Docker(t testing.TB) *docker.Engine {
	t.Helper()
	SkipShort(t, "the Docker Engine")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := docker.Connect(ctx, docker.Target{Server: docker.Localhost})
	if err != nil {
		t.Fatalf("testenv: the Docker Engine is required for this test and is not reachable: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// SkipShort skips the test under -short: `make unit` promises to need no
// Docker Engine and no sshd, whether or not they are there.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("needs %s: skipped under -short", what)
	}
}

// Labels returns labels unique to this test and removes, at cleanup, every
// container and network that carries them.
func Labels(t testing.TB) map[string]string {
	t.Helper()
	id := Unique(t, "t")
	labels := map[string]string{TestLabel: id}
	t.Cleanup(func() { RemoveLabelled(t, labels) })
	return labels
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

// Unique returns prefix-<test name>-<random>, usable as a container,
// network or label value.
func Unique(t testing.TB, prefix string) string {
	name := strings.Trim(unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + name + "-" + hex.EncodeToString(b)
}

// RemoveLabelled force-removes the containers, then the networks, carrying
// every label given, on the local Engine.
func RemoveLabelled(t testing.TB, labels map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Errorf("testenv cleanup: %v", err)
		return
	}
	defer cli.Close()
	f := client.Filters{}
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Errorf("testenv cleanup: list containers: %v", err)
		return
	}
	for _, c := range cs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("testenv cleanup: remove container %v: %v", c.Names, err)
		}
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Errorf("testenv cleanup: list networks: %v", err)
		return
	}
	for _, n := range ns.Items {
		if _, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			t.Errorf("testenv cleanup: remove network %s: %v", n.Name, err)
		}
	}
}
