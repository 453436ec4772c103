package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostError is returned when known_hosts has no key for the host and
// trust on first use is off.
type UnknownHostError struct {
	Addr        string // host:port
	KeyType     string
	Fingerprint string // SHA256:...
	KnownHosts  string
}

func (e *UnknownHostError) Error() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	return fmt.Sprintf("ssh: host %s is not in %s (it offered %s key %s); "+
		"after checking that fingerprint, add it with `ssh-keyscan -p %s -t %s %s >> %s`, "+
		"or set trust_on_first_use to record it on first connect",
		e.Addr, e.KnownHosts, e.KeyType, e.Fingerprint, port, keyscanType(e.KeyType), host, e.KnownHosts)
}

// HostKeyMismatchError is returned when the host offers a key that differs
// from the one recorded in known_hosts: possibly a man in the middle.
type HostKeyMismatchError struct {
	Addr        string
	KeyType     string
	Fingerprint string   // what the server offered
	Known       []string // file:line of the recorded keys
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("ssh: HOST KEY MISMATCH for %s: it offered %s key %s, which does not match known_hosts %v. "+
		"Someone may be intercepting the connection, or the host was reinstalled; "+
		"refusing to connect. Fix known_hosts only once you know why the key changed",
		e.Addr, e.KeyType, e.Fingerprint, e.Known)
}

// hostKeys verifies host keys against one known_hosts file.
type hostKeys struct {
	file string
	tofu bool
	cb   ssh.HostKeyCallback // nil when the file does not exist yet
}

func newHostKeys(o Options) (*hostKeys, error) {
	h := &hostKeys{file: o.KnownHosts, tofu: o.TrustOnFirstUse}
	cb, err := knownhosts.New(o.KnownHosts)
	switch {
	case err == nil:
		h.cb = cb
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("ssh: known_hosts %s: %w", o.KnownHosts, err)
	}
	return h, nil
}

// known returns the keys known_hosts holds for the host: a lookup with a key
// that cannot be in the file makes knownhosts list the ones it wants.
func (h *hostKeys) known(hostport string, remote net.Addr) []knownhosts.KnownKey {
	if h.cb == nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if err := h.cb(hostport, remote, probeKey()); errors.As(err, &keyErr) {
		return keyErr.Want
	}
	return nil
}

// algorithms lists the host key algorithms to negotiate: only those of the
// recorded keys, or Go picks RSA for a host known by its ed25519 key and
// reports a false mismatch.
func (h *hostKeys) algorithms(hostport string, remote net.Addr) []string {
	var algs []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algs = append(algs, x)
			}
		}
	}
	for _, k := range h.known(hostport, remote) {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algs
}

// check is the ssh.HostKeyCallback.
func (h *hostKeys) check(hostport string, remote net.Addr, key ssh.PublicKey) error {
	var err error
	if h.cb != nil {
		err = h.cb(hostport, remote, key)
		if err == nil {
			return nil
		}
	}
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case h.cb == nil || errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		if h.tofu {
			return h.add(hostport, key)
		}
		return &UnknownHostError{Addr: hostport, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), KnownHosts: h.file}
	case keyErr != nil:
		e := &HostKeyMismatchError{Addr: hostport, KeyType: key.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
		for _, w := range keyErr.Want {
			e.Known = append(e.Known, w.Filename+":"+strconv.Itoa(w.Line))
		}
		return e
	case errors.As(err, &revoked):
		return fmt.Errorf("ssh: host %s offered key %s, which is revoked in %s:%d", hostport, ssh.FingerprintSHA256(key), revoked.Revoked.Filename, revoked.Revoked.Line)
	default:
		return fmt.Errorf("ssh: host key of %s: %w", hostport, err)
	}
}

var appendMu sync.Mutex

// add records an unknown host's key (trust on first use).
func (h *hostKeys) add(hostport string, key ssh.PublicKey) error {
	appendMu.Lock()
	defer appendMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(h.file), 0o700); err != nil {
		return fmt.Errorf("ssh: trust on first use: %w", err)
	}
	f, err := os.OpenFile(h.file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("ssh: trust on first use: %w", err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(hostport)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return fmt.Errorf("ssh: trust on first use: writing %s: %w", h.file, err)
	}
	return f.Close()
}

var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
})

// keyscanType maps a key type to ssh-keyscan's -t name.
func keyscanType(t string) string {
	switch t {
	case ssh.KeyAlgoED25519:
		return "ed25519"
	case ssh.KeyAlgoRSA:
		return "rsa"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ecdsa"
	}
	return t
}
