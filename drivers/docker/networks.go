package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/luma-deploy/luma/drivers"
)

// EnsureNetwork creates a bridge network unless one of that name exists.
// API 1.41 lets two creators make two networks of one name, so after
// creating it keeps the oldest of the name and removes its own if it lost.
func (e *Engine) EnsureNetwork(ctx context.Context, name string, labels map[string]string) error {
	what := "network " + name
	same, err := e.networksNamed(ctx, name)
	if err != nil {
		return wrap(err, what)
	}
	if len(same) == 0 {
		if _, err := e.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil && !isConflict(err) {
			return wrap(err, "create "+what)
		}
		if same, err = e.networksNamed(ctx, name); err != nil {
			return wrap(err, what)
		}
	}
	// Keep the oldest; duplicates are new and empty, so whoever sees them
	// removes them. Best effort: one already in use cannot be removed.
	for _, n := range same[min(1, len(same)):] {
		_, _ = e.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
	}
	return nil
}

// networksNamed lists the networks of exactly that name, oldest first.
func (e *Engine) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	r, err := e.cli.NetworkList(ctx, client.NetworkListOptions{Filters: client.Filters{}.Add("name", name)})
	if err != nil {
		return nil, err
	}
	var out []network.Summary
	for _, n := range r.Items {
		if n.Name == name {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func isConflict(err error) bool { return err != nil && errors.Is(wrap(err, ""), drivers.ErrConflict) }

// Connect joins a container to a network with aliases. Already connected
// with the same aliases is no error; with others it is ErrConflict, since
// the Engine cannot edit aliases in place.
func (e *Engine) Connect(ctx context.Context, netName, ctr string, aliases []string) error {
	what := fmt.Sprintf("connect container %s to network %s", ctr, netName)
	_, err := e.cli.NetworkConnect(ctx, netName, client.NetworkConnectOptions{
		Container:      ctr,
		EndpointConfig: &network.EndpointSettings{Aliases: aliases},
	})
	if err == nil {
		return nil
	}
	c, ierr := e.Inspect(ctx, ctr)
	if ierr != nil {
		return wrap(err, what)
	}
	have, ok := c.Networks[netName]
	if !ok {
		return wrap(err, what)
	}
	if sameSet(have, aliases) {
		return nil
	}
	return fmt.Errorf("%s: %w with aliases %v, not %v", what, drivers.ErrConflict, have, aliases)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// Disconnect takes a container off a network; not connected (or either of
// them missing) is no error.
func (e *Engine) Disconnect(ctx context.Context, netName, ctr string) error {
	_, err := e.cli.NetworkDisconnect(ctx, netName, client.NetworkDisconnectOptions{Container: ctr})
	if err == nil || isNotFound(err) {
		return nil
	}
	c, ierr := e.Inspect(ctx, ctr)
	if errors.Is(ierr, drivers.ErrNotFound) {
		return nil
	}
	if ierr == nil {
		if _, ok := c.Networks[netName]; !ok {
			return nil
		}
	}
	return wrap(err, fmt.Sprintf("disconnect container %s from network %s", ctr, netName))
}
