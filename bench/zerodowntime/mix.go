package main

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// kind is one kind of request in the traffic mix.
type kind string

const (
	getKeep  kind = "get"           // GET / on a keep-alive connection
	getFresh kind = "get-fresh"     // GET / on a new connection each time
	download kind = "download-256k" // GET /bytes?n=262144, checked by length and pattern
	slow     kind = "slow"          // GET /slow?ms=N, in flight across switches
	// stream is a Server-Sent Events response read to its streamEvents-th
	// event (GET /events?interval=streamInterval): a streaming response
	// that spans a switch, checked event by event.
	stream kind = "stream-sse"
	// ws is a WebSocket session of wsMessages messages, wsInterval apart
	// (ws.go): a connection upgraded by the proxy that spans a switch.
	ws kind = "websocket"
)

const (
	streamEvents   = 10
	streamInterval = "100ms"
)

const downloadSize = 256 << 10

// spec says how to send a kind and how often, relative to the others.
type spec struct {
	body    int  // POST /echo of this many random bytes; 0: a GET
	chunked bool // no Content-Length
	fresh   bool // a new connection
	weight  int
}

var specs = map[kind]spec{
	getKeep:  {weight: 16},
	getFresh: {fresh: true, weight: 8},
	download: {weight: 4},
	stream:   {weight: 2},
	ws:       {weight: 2},
	slow:     {}, // by -slow-share, not by weight
}

// groups are the names -mix takes; post-8k means both post-8k-sized and
// post-8k-chunked.
var groups = map[string][]kind{
	"get":       {getKeep},
	"fresh":     {getFresh},
	"download":  {download},
	"stream":    {stream},
	"websocket": {ws},
	"slow":      {slow},
}

func init() {
	for _, b := range []struct {
		name          string
		size          int
		sized, chunks int // weights
	}{
		{"1k", 1 << 10, 4, 4},
		{"8k", 8 << 10, 6, 6},
		{"64k", 64 << 10, 4, 4},
		{"1m", 1 << 20, 1, 1},
	} {
		sized, chunked := kind("post-"+b.name+"-sized"), kind("post-"+b.name+"-chunked")
		specs[sized] = spec{body: b.size, weight: b.sized}
		specs[chunked] = spec{body: b.size, chunked: true, weight: b.chunks}
		groups["post-"+b.name] = []kind{sized, chunked}
		groups["post-"+b.name+"-sized"] = []kind{sized}
		groups["post-"+b.name+"-chunked"] = []kind{chunked}
	}
}

// allMix is the default: every kind.
const allMix = "get,fresh,post-1k,post-8k,post-64k,post-1m,download,stream,websocket,slow"

// mix is the order in which kinds are sent: a fixed shuffled cycle where
// each kind appears as often as its weight, and one request in slowEvery
// a slow one.
type mix struct {
	names     string
	cycle     []kind
	slowEvery int
}

func parseMix(s string, slowShare float64) (mix, error) {
	if s == "all" || s == "" {
		s = allMix
	}
	m := mix{names: s}
	seen := map[kind]bool{}
	for _, name := range strings.Split(s, ",") {
		ks, ok := groups[strings.TrimSpace(name)]
		if !ok {
			return m, fmt.Errorf("-mix: unknown %q; use all or some of %s", name, strings.Join(groupNames(), ", "))
		}
		for _, k := range ks {
			if seen[k] {
				continue
			}
			seen[k] = true
			if k == slow {
				if slowShare > 0 {
					m.slowEvery = int(1/slowShare + 0.5)
				}
				continue
			}
			for range specs[k].weight {
				m.cycle = append(m.cycle, k)
			}
		}
	}
	if len(m.cycle) == 0 && m.slowEvery == 0 {
		return m, fmt.Errorf("-mix %q sends nothing", s)
	}
	if len(m.cycle) == 0 {
		m.cycle = []kind{slow}
	}
	sort.Slice(m.cycle, func(i, j int) bool { return m.cycle[i] < m.cycle[j] })
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(m.cycle), func(i, j int) { m.cycle[i], m.cycle[j] = m.cycle[j], m.cycle[i] })
	return m, nil
}

// at is the kind of request number i of the constant-rate load.
func (m mix) at(i int) kind {
	if m.slowEvery > 0 && i%m.slowEvery == m.slowEvery/2 {
		return slow
	}
	return m.cycle[i%len(m.cycle)]
}

// burstAt is the kind of request number i of the bursts, which have no
// slow requests or streams: a burst ends when all its requests are done.
func (m mix) burstAt(i int) kind {
	if k := m.cycle[i%len(m.cycle)]; k != slow && k != stream {
		return k
	}
	return getKeep
}

func groupNames() []string {
	var n []string
	for g := range groups {
		n = append(n, g)
	}
	sort.Strings(n)
	return n
}
