package proxy

import (
	"context"
	"errors"
	"time"

	"github.com/luma-deploy/luma/proxy/protocol"
)

// The admin relay (`luma proxy admin` in the container) decodes requests
// and answers into its own protocol types, so a relay older than the
// client drops the fields it does not know. A luma-proxy upgraded in
// place runs a newer binary (on its state volume) than its image's /luma:
// the client relays through the binary the proxy runs, which a ping
// names, once per client and again whenever a ping names another.

// imageBinary is the luma binary of every luma-proxy image.
const imageBinary = "/luma"

// resolve asks the proxy which binary it runs, until it answers once, and
// relays through it from then on. Until then calls go through the image's.
func (c *Client) resolve(ctx context.Context) {
	c.resolveMu.Lock()
	defer c.resolveMu.Unlock()
	if c.resolved {
		return
	}
	resp, err := c.do(ctx, protocol.Request{Op: protocol.OpPing})
	if err != nil {
		return // asked again at the next call
	}
	c.resolved = true
	c.useBinary(resp.Binary)
}

// relay is the binary the admin commands run.
func (c *Client) relay() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bin == "" {
		return imageBinary
	}
	return c.bin
}

// command is cmd (AdminCommand or SessionCommand) run by the relay.
func (c *Client) command(cmd []string) []string {
	return append([]string{c.relay()}, cmd[1:]...)
}

// useBinary relays through bin from now on. The open session finishes
// the calls it carries and closes; the next call opens one with bin.
func (c *Client) useBinary(bin string) {
	c.mu.Lock()
	if bin == "" || bin == c.bin || (c.bin == "" && bin == imageBinary) {
		c.mu.Unlock()
		return
	}
	c.bin = bin
	old := c.cur
	c.cur = nil
	c.mu.Unlock()
	if old != nil {
		go old.retire()
	}
}

// retire closes a session once no call waits on it (or after
// openTimeout).
func (s *session) retire() {
	<-s.ready
	deadline := time.Now().Add(openTimeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.es != nil {
		s.es.Close()
	}
	s.fail(errors.New("replaced by a session of the binary luma-proxy runs"))
}
