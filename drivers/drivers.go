// Package drivers holds the interfaces that steps/ talks to and the types
// that cross them. Implementations: drivers/docker (the Engine, locally or
// over SSH), drivers/proxy (luma-proxy through docker exec) and drivers/fake.
package drivers

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/luma-deploy/luma/machine"
)

var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
)

// ContainerSpec is what Create needs. Env holds secrets: never log it.
type ContainerSpec struct {
	Name        string
	Image       string
	Labels      map[string]string
	Env         []string // KEY=VALUE
	Cmd         []string
	Network     string   // joined at create time
	Aliases     []string // on Network; app containers get none at create
	Volumes     []string // "volume:/path" or "/host/path:/path[:ro]"
	Ports       []string // "hostPort:containerPort[/proto]", for the proxy and services
	StopSignal  string   // e.g. SIGTERM; the 1.41 API ignores a stop-time signal
	StopTimeout time.Duration
	Restart     string // restart policy name, e.g. unless-stopped
}

// Container is what Inspect and List report.
type Container struct {
	ID           string
	Name         string
	Image        string
	ImageID      string // the image it was created from, even after its tag moved
	Labels       map[string]string
	State        string // created, running, restarting, exited, dead
	ExitCode     int
	RestartCount int
	StartedAt    time.Time
	Networks     map[string][]string // network name → aliases
	// Volumes are its named volumes: destination → volume name.
	Volumes map[string]string
}

// Running tells whether the container runs and is not in a restart loop.
func (c Container) Running() bool { return c.State == "running" }

// Containers manages containers on one server.
type Containers interface {
	Create(ctx context.Context, spec ContainerSpec) error
	Start(ctx context.Context, name string) error
	// Stop sends the container's stop signal and kills it after timeout.
	Stop(ctx context.Context, name string, timeout time.Duration) error
	// Remove removes a container, running or not; a missing one is no error.
	Remove(ctx context.Context, name string) error
	Inspect(ctx context.Context, name string) (Container, error)
	// List returns the containers, running or not, carrying every label given.
	List(ctx context.Context, labels map[string]string) ([]Container, error)
}

// Files puts files into containers: luma-proxy's next binary onto its
// state volume, for an upgrade in place.
type Files interface {
	// PutFile writes content (mode) at dir/name in the container; dir
	// must exist, name may hold subdirectories, which are created.
	PutFile(ctx context.Context, container, dir, name string, content []byte, mode int64) error
	// ImageFile reads the regular file at path of an image the engine
	// holds (through a container created for it and removed, never run).
	ImageFile(ctx context.Context, ref, path string) ([]byte, error)
}

// Networks manages networks on one server.
type Networks interface {
	// EnsureNetwork creates a bridge network unless it exists.
	EnsureNetwork(ctx context.Context, name string, labels map[string]string) error
	Connect(ctx context.Context, network, container string, aliases []string) error
	Disconnect(ctx context.Context, network, container string) error
}

// Images moves, builds, pulls and pushes images.
type Images interface {
	HasImage(ctx context.Context, ref string) (bool, error)
	// ImageID is the image's content ID, "" when the engine lacks ref. Two
	// engines with the same ID for a ref hold the same image, so a tag that
	// was rebuilt is noticed and sent again.
	ImageID(ctx context.Context, ref string) (string, error)
	SaveImage(ctx context.Context, ref string) (io.ReadCloser, error)
	LoadImage(ctx context.Context, tar io.Reader) error
	// LayerChains is the chain ID of every layer of every image the
	// engine holds, for SaveImageFor on the engine that sends.
	LayerChains(ctx context.Context) (map[string]bool, error)
	// SaveImageFor saves ref as SaveImage does without the layers whose
	// chain ID is in have: LoadImage of an engine that holds them reads
	// them from itself. The caller closes the tar.
	SaveImageFor(ctx context.Context, ref string, have map[string]bool) (*ImageTar, error)
	// BuildImage builds from a tar of the build context.
	BuildImage(ctx context.Context, spec BuildSpec, context io.Reader) error
	// PullImage pulls ref from its registry, with auth when not nil (see
	// RegistryAuth.For); a refusal is a *RegistryError. Progress goes to
	// the func of WithProgress.
	PullImage(ctx context.Context, ref string, auth *RegistryAuth) error
	// PushImage pushes ref, which the engine has, to its registry.
	PushImage(ctx context.Context, ref string, auth *RegistryAuth) error
	// CheckImage asks ref's registry, from this engine, whether ref exists
	// and auth may pull it, pulling nothing: a *RegistryError when not.
	CheckImage(ctx context.Context, ref string, auth *RegistryAuth) error
}

// ImageTar is a save of one image without the layers the engine that
// loads it holds.
type ImageTar struct {
	io.ReadCloser
	Size  int64 // about the bytes it holds
	Whole int64 // bytes of the whole save
	// Omitted is the chain IDs of the layers left out: the load fails
	// when the engine no longer holds one of them (pruned meanwhile).
	Omitted []string
}

// BuildSpec is a build of one image from a context tar.
type BuildSpec struct {
	Tag        string
	Tags       []string // more tags for the same image
	Dockerfile string   // path inside the context
	Args       map[string]string
	Target     string
	Platform   string
	Labels     map[string]string
}

// Engine is one server's container engine.
type Engine interface {
	Containers
	Networks
	Images
	ImageStore
	// Exec runs cmd in a running container with stdin, returning stdout; a
	// non-zero exit is an error carrying stderr.
	Exec(ctx context.Context, container string, cmd []string, stdin []byte) ([]byte, error)
	// ExecStream runs cmd in a running container with its stdin and stdout
	// streamed, for a command that answers many requests over one exec.
	// ctx bounds the whole stream: cancelling it cuts the connection.
	ExecStream(ctx context.Context, container string, cmd []string) (ExecSession, error)
	// Platform is the engine's os/arch, e.g. linux/amd64.
	Platform(ctx context.Context) (string, error)
	Close() error
}

// ExecSession is a command running under ExecStream.
type ExecSession interface {
	// Write writes to the command's stdin; Close ends stdin (the command
	// reads EOF) and leaves stdout open.
	io.WriteCloser
	// Stdout is the command's stdout; it ends when the command exits or the
	// stream is cut.
	Stdout() io.Reader
	// Wait returns, once stdout has ended, nil for exit code 0 or an error
	// with the exit code and the command's stderr.
	Wait() error
}

// Route is what the proxy serves for one app.
type Route struct {
	App        string   `json:"app"` // project/app
	Hosts      []string `json:"hosts"`
	Targets    []string `json:"targets"` // container:port
	HealthPath string   `json:"health_path,omitempty"`
	Draining   []string `json:"draining,omitempty"` // targets removed, requests still in flight

	// MaxBodySize is the largest request body the app accepts, in bytes
	// (0: no limit); the proxy answers 413 past it.
	MaxBodySize int64 `json:"max_body_size,omitempty"`
	// UpstreamIdleTimeout is the longest the proxy reuses a connection to
	// the app that sat idle (0: the proxy's default); set it below the
	// app's own keep-alive timeout.
	UpstreamIdleTimeout time.Duration `json:"upstream_idle_timeout,omitempty"`
	// TLS, when set, has the proxy serve the hosts over HTTPS.
	TLS *RouteTLS `json:"tls,omitempty"`
}

// RouteTLS is how luma-proxy serves a route's hosts over HTTPS.
type RouteTLS struct {
	// ACME, when set, has the proxy obtain and renew a certificate for
	// each host. Otherwise the certificate is the app's own, given with
	// Router.SetCertificate.
	ACME *ACME `json:"acme,omitempty"`
	// Redirect answers plain HTTP with 308 to HTTPS once the host has a
	// certificate (never the ACME challenge path).
	Redirect bool `json:"redirect"`
	// HSTS adds Strict-Transport-Security to HTTPS responses.
	HSTS bool `json:"hsts,omitempty"`
	// HTTPSPort is the port clients reach HTTPS on, for redirects.
	HTTPSPort int `json:"https_port,omitempty"`
	// Peers are host:port of the other proxies serving this app; an ACME
	// HTTP-01 challenge the CA sends to this proxy for a token another
	// proxy holds is answered by asking them.
	Peers []string `json:"peers,omitempty"`
}

// ACME names the certificate authority and account of automatic
// certificates.
type ACME struct {
	Directory string `json:"directory"`
	Email     string `json:"email,omitempty"`
	// CACertificate is PEM of extra roots to trust when talking to the
	// directory (a private CA such as step-ca).
	CACertificate string `json:"ca_certificate,omitempty"`
}

// Certificate is the status of one host's certificate on one proxy.
type Certificate struct {
	Host      string    `json:"host"`
	App       string    `json:"app"`
	Source    string    `json:"source"` // "acme" or "custom"
	Issuer    string    `json:"issuer,omitempty"`
	NotAfter  time.Time `json:"not_after,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// NextAttempt is when the proxy tries ACME again after LastError.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// Probe is the result of one health probe.
type Probe struct {
	Status int    `json:"status"` // HTTP status, 0 when no response
	Error  string `json:"error,omitempty"`
}

// Healthy tells whether the probe got a 2xx.
func (p Probe) Healthy() bool { return p.Status >= 200 && p.Status < 300 }

// Router is the traffic side of luma-proxy on one server.
type Router interface {
	// Probe requests path on target once, from the proxy's network position.
	Probe(ctx context.Context, target, path string, timeout time.Duration) (Probe, error)
	// SetRoute atomically replaces an app's hosts and targets and returns the
	// route it replaced. Removed targets start draining.
	SetRoute(ctx context.Context, r Route) (Route, error)
	// Drain waits until none of targets has a request in flight or timeout
	// passes, and returns how many requests were still in flight.
	Drain(ctx context.Context, app string, targets []string, timeout time.Duration) (int, error)
	// RemoveRoute stops serving an app.
	RemoveRoute(ctx context.Context, app string) error
	Routes(ctx context.Context) ([]Route, error)
	// SetCertificate gives an app its own certificate for its hosts; the
	// proxy refuses one that does not serve them.
	SetCertificate(ctx context.Context, app string, c OwnCertificate) error
	// Certificates reports every HTTPS host's certificate.
	Certificates(ctx context.Context) ([]Certificate, error)
}

// ProxyInfo is what a running luma-proxy says of itself.
type ProxyInfo struct {
	Version  string
	Revision int    // of its code: luma setup upgrades when it differs from the CLI's
	Binary   string // the executable it runs
	// Supervised: it runs under the supervisor of its container, so it
	// can be upgraded in place (Upgrade); older ones must be replaced.
	Supervised bool
}

// UpgradeStatus is the outcome of a luma-proxy's last upgrade in place.
type UpgradeStatus struct {
	Binary string    `json:"binary"`
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}

// ProxyAdmin upgrades luma-proxy in place.
type ProxyAdmin interface {
	Info(ctx context.Context) (ProxyInfo, error)
	// Upgrade asks the supervisor to hand over to the binary at path (in
	// the state volume's bin directory); Info names it once it serves.
	Upgrade(ctx context.Context, path string) error
	UpgradeStatus(ctx context.Context) (UpgradeStatus, error)
}

// OwnCertificate is an app's own certificate chain and private key, PEM,
// for Hosts. It travels only to the proxy: never printed or logged.
type OwnCertificate struct {
	Certificate string   `json:"certificate"`
	PrivateKey  string   `json:"private_key"`
	Hosts       []string `json:"hosts"`
}

// Lock describes who holds a deploy lock.
type Lock struct {
	Key     string        `json:"key"`
	Holder  string        `json:"holder"`
	Since   time.Time     `json:"since"`
	Expires time.Time     `json:"expires"`
	State   machine.State `json:"state,omitempty"` // machine state of the holder's deploy
}

// LockedError is returned when another live holder has the lock.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string {
	return "deploy lock for " + e.Lock.Key + " held by " + e.Lock.Holder +
		" since " + e.Lock.Since.Format(time.RFC3339) + " (state " + string(e.Lock.State) + ")"
}

// Store keeps deploy locks, machine records and the audit log on one
// server.
type Store interface {
	machine.Persister
	Audit
	// Lock takes the lock for key unless a holder whose lease has not expired
	// has it (*LockedError). The returned bool is true when an expired lease
	// was taken over, i.e. the previous run died.
	Lock(ctx context.Context, key, holder string, lease time.Duration) (bool, error)
	Renew(ctx context.Context, key, holder string, lease time.Duration) error
	Unlock(ctx context.Context, key, holder string) error
	// ReleaseLock takes key away from whoever holds it, for a stuck lock
	// (`luma lock release --force`), and returns the lock it removed, or
	// ErrNotFound when none was held. A live holder then fails to renew
	// its lease and stops as a lost lease makes it.
	ReleaseLock(ctx context.Context, key string) (Lock, error)
	// Load returns the record of project/app, or ErrNotFound.
	Load(ctx context.Context, project, app string) (machine.Record, error)
	// Forget deletes the record of project/app, for an app taken away; a
	// missing record is no error, so it is safe to repeat.
	Forget(ctx context.Context, project, app string) error
	Records(ctx context.Context) ([]machine.Record, error)
	Locks(ctx context.Context) ([]Lock, error)
}

// Proxy is luma-proxy on one server: router and store.
type Proxy interface {
	Router
	Store
}
