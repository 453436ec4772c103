package proxy

import "strconv"

// Revision identifies the proxy's behaviour and admin protocol. luma setup
// upgrades a server's luma-proxy only when its revision differs from this
// one, so a luma release that does not touch the proxy leaves it alone.
// TestRevisionFollowsSource fails when the proxy's source changed and
// revision did not: bump it, then run
//
//	go test ./proxy -run TestRevisionFollowsSource -update
var Revision = revision

const revision = 14

// revisionOverride, set with -ldflags "-X ...proxy.revisionOverride=N",
// gives a test build another revision, to upgrade to and from.
var revisionOverride string

func init() {
	if n, err := strconv.Atoi(revisionOverride); err == nil {
		Revision = n
	}
}

// SupervisorRevision identifies the supervisor (PID 1 of the container),
// which an upgrade in place does not replace: when it differs from the
// one a container was made with, luma setup replaces the container.
// Bump it whenever supervisor.go changes how it runs its children.
const SupervisorRevision = 4
