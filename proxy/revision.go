package proxy

// Revision identifies the proxy's behaviour and admin protocol. luma setup
// upgrades a server's luma-proxy only when its revision differs from this
// one, so a luma release that does not touch the proxy leaves it alone.
// TestRevisionFollowsSource fails when the proxy's source changed and
// Revision did not: bump it, then run
//
//	go test ./proxy -run TestRevisionFollowsSource -update
const Revision = 2
