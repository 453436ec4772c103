//go:build !linux && !darwin

package ssh

import "net"

// limitUnsent has no TCP_NOTSENT_LOWAT to set here (unsent_unix.go).
func limitUnsent(net.Conn) {}
