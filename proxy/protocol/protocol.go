// Package protocol is the admin protocol of luma-proxy. The luma CLI runs
// `luma proxy admin` inside the luma-proxy container (docker exec), writes
// one Request as JSON to its stdin and reads one Response from its stdout;
// that command relays it to the proxy process over SocketPath. No admin
// port is ever opened on the network.
//
// `luma proxy admin --session` keeps one exec open for a whole run instead:
// newline-delimited Requests on stdin, each with an ID, are answered
// concurrently, each Response on one stdout line carrying the Request's ID,
// in whatever order they finish. The session ends at stdin's EOF once every
// answer is written.
package protocol

import (
	"time"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/machine"
)

// SocketPath is the admin socket inside the luma-proxy container.
const SocketPath = "/run/luma-proxy/admin.sock"

// StatePath is where the proxy keeps its state, on the luma-proxy-state volume.
const StatePath = "/var/lib/luma-proxy/state.json"

// Ops.
const (
	OpProbe       = "probe"        // Target, Path, Timeout → Probe
	OpSetRoute    = "set_route"    // Route → Route (the replaced one)
	OpDrain       = "drain"        // App, Targets, Timeout → Remaining
	OpRemoveRoute = "remove_route" // App
	OpRoutes      = "routes"       // → Routes
	OpLock        = "lock"         // Key, Holder, Lease → TookOver, or Locked
	OpRenew       = "renew"        // Key, Holder, Lease
	OpUnlock      = "unlock"       // Key, Holder
	OpSave        = "save"         // Record
	OpLoad        = "load"         // Project, App → Record, or NotFound
	OpForget      = "forget"       // Project, App: the record is deleted
	OpRecords     = "records"      // → Records
	OpLocks       = "locks"        // → Locks
	OpPing        = "ping"         // → Version
	// OpSetCertificate gives an app its own certificate (App,
	// Certificate); it is checked against the hosts first.
	OpSetCertificate = "set_certificate"
	OpCertificates   = "certificates" // → Certificates, without keys
	// OpUpgrade has the supervisor start the binary at Path (in the
	// state volume's bin directory) beside this proxy and hand over to
	// it; ping answers with the new Binary once it took over.
	OpUpgrade       = "upgrade"
	OpUpgradeStatus = "upgrade_status" // → Upgrade: the last upgrade's outcome
	OpAppendEvent   = "append_event"   // Event: added to the audit log
	OpEvents        = "events"         // Project → Events, oldest first
	// OpReleaseLock takes Key from whoever holds it → Lock (the one
	// removed), or NotFound.
	OpReleaseLock = "release_lock"
	OpClaimPorts  = "claim_ports" // Claim: the project's ports, replacing its earlier claim
	OpPortClaims  = "port_claims" // → Claims, by project
)

// UpgradeStatus is the outcome of the last upgrade.
type UpgradeStatus = drivers.UpgradeStatus

// Request is one admin call.
type Request struct {
	ID      uint64          `json:"id,omitempty"` // set in a session, echoed in the Response
	Op      string          `json:"op"`
	Target  string          `json:"target,omitempty"`
	Path    string          `json:"path,omitempty"`
	Timeout time.Duration   `json:"timeout,omitempty"`
	Route   *drivers.Route  `json:"route,omitempty"`
	App     string          `json:"app,omitempty"`
	Targets []string        `json:"targets,omitempty"`
	Key     string          `json:"key,omitempty"`
	Holder  string          `json:"holder,omitempty"`
	Lease   time.Duration   `json:"lease,omitempty"`
	Record  *machine.Record `json:"record,omitempty"`
	Project string          `json:"project,omitempty"`
	// Certificate travels only in requests; responses never hold a key.
	Certificate *drivers.OwnCertificate `json:"certificate,omitempty"`
	Event       *drivers.Event          `json:"event,omitempty"`
	Claim       *drivers.PortClaim      `json:"claim,omitempty"`
}

// Error kinds, so the client can map them back to drivers errors.
const (
	KindNotFound = "not_found"
	KindLocked   = "locked"
)

// Response answers one Request. Error is set when the call failed.
type Response struct {
	ID        uint64           `json:"id,omitempty"` // the Request's, in a session
	Error     string           `json:"error,omitempty"`
	Kind      string           `json:"kind,omitempty"`
	Probe     *drivers.Probe   `json:"probe,omitempty"`
	Route     *drivers.Route   `json:"route,omitempty"`
	Routes    []drivers.Route  `json:"routes,omitempty"`
	Remaining int              `json:"remaining,omitempty"`
	TookOver  bool             `json:"took_over,omitempty"`
	Lock      *drivers.Lock    `json:"lock,omitempty"` // the holder, with KindLocked
	Record    *machine.Record  `json:"record,omitempty"`
	Records   []machine.Record `json:"records,omitempty"`
	Locks     []drivers.Lock   `json:"locks,omitempty"`
	Version   string           `json:"version,omitempty"`
	// Revision and Binary identify the proxy that answered a ping: its
	// code's revision and the executable it runs.
	Revision   int            `json:"revision,omitempty"`
	Binary     string         `json:"binary,omitempty"`
	Supervised bool           `json:"supervised,omitempty"`
	Upgrade    *UpgradeStatus `json:"upgrade,omitempty"`

	Certificates []drivers.Certificate `json:"certificates,omitempty"`
	Events       []drivers.Event       `json:"events,omitempty"`
	Claims       []drivers.PortClaim   `json:"claims,omitempty"`
}
