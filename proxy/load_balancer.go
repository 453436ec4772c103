package proxy

import "sync/atomic"

// LoadBalancer is one immutable set of targets. Replacing an app's targets
// means replacing its LoadBalancer, so a request always picks from one
// consistent set.
type LoadBalancer struct {
	targets []*Target
	next    atomic.Uint32
}

func newLoadBalancer(targets []*Target) *LoadBalancer {
	return &LoadBalancer{targets: targets}
}

// pick returns the healthy target with the fewest requests in flight,
// starting the scan round robin so ties spread evenly. When no target is
// known healthy (e.g. just restored and not probed yet) it tries the least
// loaded one anyway rather than answering 503. nil when the set is empty.
func (lb *LoadBalancer) pick() *Target {
	n := len(lb.targets)
	if n == 0 {
		return nil
	}
	start := uint(lb.next.Add(1))
	var best, bestAny *Target
	for i := range n {
		t := lb.targets[(start+uint(i))%uint(n)]
		if bestAny == nil || t.inflight.Load() < bestAny.inflight.Load() {
			bestAny = t
		}
		if t.healthy.Load() && (best == nil || t.inflight.Load() < best.inflight.Load()) {
			best = t
		}
	}
	if best == nil {
		return bestAny
	}
	return best
}

// addrs lists the targets' addresses in order.
func (lb *LoadBalancer) addrs() []string {
	out := make([]string, len(lb.targets))
	for i, t := range lb.targets {
		out[i] = t.addr
	}
	return out
}

// find returns the target with addr, or nil.
func (lb *LoadBalancer) find(addr string) *Target {
	for _, t := range lb.targets {
		if t.addr == addr {
			return t
		}
	}
	return nil
}
