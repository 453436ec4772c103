//go:build linux || darwin

package ssh

import (
	"net"

	"golang.org/x/sys/unix"
)

// maxUnsent bounds the bytes written to the connection but not yet sent.
// An image transfer fills the socket's send buffer (megabytes, seconds of
// a slow uplink) and every call sent beside it on the same connection
// (lease renewals, health probes, the switch itself) would queue behind
// them; with the bound, behind at most this much (bench/slowlink).
const maxUnsent = 128 << 10

// limitUnsent sets TCP_NOTSENT_LOWAT; where it fails, calls are only slower.
func limitUnsent(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, maxUnsent)
	})
}
