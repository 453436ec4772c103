package proxy

import (
	"context"
	"errors"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// AppendEvent adds e to the server's audit log.
func (c *Client) AppendEvent(ctx context.Context, e drivers.Event) error {
	_, err := c.call(ctx, protocol.Request{Op: protocol.OpAppendEvent, Event: &e})
	return err
}

// Events is project's audit log on the server, oldest first.
func (c *Client) Events(ctx context.Context, project string) ([]drivers.Event, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpEvents, Project: project})
	return resp.Events, err
}

// ReleaseLock takes key from whoever holds it and returns the lock it
// removed.
func (c *Client) ReleaseLock(ctx context.Context, key string) (drivers.Lock, error) {
	resp, err := c.call(ctx, protocol.Request{Op: protocol.OpReleaseLock, Key: key})
	if err == nil && resp.Lock == nil {
		err = errors.New("luma-proxy release_lock: empty answer")
	}
	if err != nil {
		return drivers.Lock{}, err
	}
	return *resp.Lock, nil
}
