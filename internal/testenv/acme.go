package testenv

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ACMEAddr is where the test ACME server listens: the host's luma-svc
// address (scripts/svc-addr.sh), which every luma-proxy reaches, on the
// local engine and on the netns test servers alike.
const ACMEAddr = "10.231.0.1"

// ACMEOptions configure the test ACME server.
type ACMEOptions struct {
	// HTTPPort and TLSPort are where pebble validates HTTP-01 and
	// TLS-ALPN-01 challenges on a host's address (SetHost): the ports
	// the proxies publish. Default 8080 and 8443.
	HTTPPort, TLSPort int
	// Validity of issued certificates, in whole seconds (rounded up);
	// zero is pebble's 90 days. Pebble issues NotAfter = NotBefore +
	// Validity - 1s.
	Validity time.Duration
}

// ACME is Let's Encrypt's pebble (a real RFC 8555 server that really
// validates challenges) with pebble-challtestsrv as its DNS server, both
// built from test/acme. Pebble serves its directory over HTTPS on
// ACMEAddr with a certificate from a throwaway CA (CACertFile); its
// management API and the DNS server are on 127.0.0.1 only.
type ACME struct {
	opts   ACMEOptions
	dir    string // directory URL
	caFile string
	mgmt   string // pebble's management API, https://127.0.0.1:PORT
	chall  string // challtestsrv's management API, http://127.0.0.1:PORT
	client *http.Client
	procs  []proc
	log    *Buffer
}

// buildACME builds pebble and pebble-challtestsrv (test/acme, its own
// module, so pebble's dependencies stay out of luma's go.mod) into dir.
func buildACME(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"github.com/letsencrypt/pebble/v2/cmd/pebble",
		"github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv")
	cmd.Dir = filepath.Join(RepoRoot(), "test", "acme")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build test/acme: %v\n%s", err, out)
	}
	return nil
}

// StartACME builds (into dir) and starts pebble and its DNS server,
// and returns once both answer; Stop ends them. For TestMain; tests use
// NewACME.
func StartACME(dir string, o ACMEOptions) (*ACME, error) {
	if o.HTTPPort == 0 {
		o.HTTPPort = 8080
	}
	if o.TLSPort == 0 {
		o.TLSPort = 8443
	}
	if err := buildACME(dir); err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	listen := net.JoinHostPort(ACMEAddr, strconv.Itoa(ports[0]))
	mgmt := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	dns := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[2]))
	chall := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[3]))

	caFile, certFile, keyFile, err := pebbleTLS(dir)
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "pebble.json")
	if err := writePebbleConfig(config, o, listen, mgmt, certFile, keyFile); err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	a := &ACME{
		opts:   o,
		dir:    "https://" + listen + "/dir",
		caFile: caFile,
		mgmt:   "https://" + mgmt,
		chall:  "http://" + chall,
		client: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
		},
		log: &Buffer{},
	}
	// The DNS server answers A queries with 127.0.0.1 for any host not
	// set with SetHost and AAAA queries not at all: pebble dials the
	// first address it resolves, AAAA first.
	err = a.start(exec.Command(filepath.Join(dir, "pebble-challtestsrv"),
		"-dnsserver", dns, "-management", chall,
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""))
	if err == nil {
		err = a.start(exec.Command(filepath.Join(dir, "pebble"), "-config", config, "-dnsserver", dns))
	}
	if err == nil {
		err = a.wait(chall, a.dir)
	}
	if err != nil {
		a.Stop()
		return nil, err
	}
	return a, nil
}

// NewACME starts a test ACME server for the test and stops it at
// cleanup, logging its output when the test failed. Skipped under
// -short: it needs root's luma-svc address.
func NewACME(t testing.TB, o ACMEOptions) *ACME {
	t.Helper()
	SkipShort(t, "the test ACME server on "+ACMEAddr)
	a, err := StartACME(t.TempDir(), o)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			t.Logf("test ACME server's log:\n%s", a.Log())
		}
	})
	return a
}

// Options are the options in effect (defaults filled in).
func (a *ACME) Options() ACMEOptions { return a.opts }

// Directory is the ACME directory URL: https://10.231.0.1:PORT/dir.
func (a *ACME) Directory() string { return a.dir }

// CACertFile is the PEM file of the CA that signed pebble's HTTPS
// certificate (what luma.yml's proxy.acme.ca_certificate names). It is
// not the CA that issues ACME certificates: see Roots.
func (a *ACME) CACertFile() string { return a.caFile }

// HTTPClient trusts CACertFile, for ACME clients in tests.
func (a *ACME) HTTPClient() *http.Client { return a.client }

// Log is what pebble and its DNS server printed so far (validation
// attempts and their errors).
func (a *ACME) Log() string { return a.log.String() }

// SetHost makes host resolve to ips (A records) for pebble's validation,
// replacing what it resolved to; with no ips it resolves to 127.0.0.1
// again. Pebble validates on the first address only.
func (a *ACME) SetHost(host string, ips ...string) error {
	if err := a.challPost("/clear-a", map[string]any{"host": host}); err != nil {
		return err
	}
	if len(ips) == 0 {
		return nil
	}
	return a.challPost("/add-a", map[string]any{"host": host, "addresses": ips})
}

// Roots are the roots of the certificates pebble issues (new at every
// start), to verify what luma-proxy serves.
func (a *ACME) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	return a.pool(t, "/roots/0")
}

// Intermediates are the intermediates that sign pebble's certificates;
// pebble also sends them in every issued chain.
func (a *ACME) Intermediates(t testing.TB) *x509.CertPool {
	t.Helper()
	return a.pool(t, "/intermediates/0")
}

func (a *ACME) pool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	resp, err := a.client.Get(a.mgmt + path)
	if err != nil {
		t.Fatalf("testenv: pebble %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: pebble %s: %s %v %s", path, resp.Status, err, body)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(body) {
		t.Fatalf("testenv: pebble %s: no certificate in %q", path, body)
	}
	return p
}

// proc is a started program; exited is closed once it ended.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// Stop ends pebble and its DNS server and waits for them.
func (a *ACME) Stop() {
	for _, p := range a.procs {
		p.cmd.Process.Kill()
		<-p.exited
	}
	a.procs = nil
}

func (a *ACME) start(cmd *exec.Cmd) error {
	cmd.Stdout, cmd.Stderr = a.log, a.log
	// Real validation, no random sleeps, no random bad nonces, and no
	// reuse of a valid authorization: every order is validated again.
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PEBBLE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := proc{cmd, make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	a.procs = append(a.procs, p)
	return nil
}

// wait returns once challtestsrv's management port and pebble's
// directory answer, or fails with the log.
func (a *ACME) wait(chall, dir string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", chall, time.Second); err == nil {
			c.Close()
			if resp, err := a.client.Get(dir); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		for _, p := range a.procs {
			select {
			case <-p.exited:
				return fmt.Errorf("%s exited: %v\n%s", filepath.Base(p.cmd.Path), p.cmd.ProcessState, a.Log())
			default:
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("test ACME server did not answer at %s within 30s (is %s on the host? scripts/svc-addr.sh):\n%s", dir, ACMEAddr, a.Log())
}

func (a *ACME) challPost(path string, body any) error {
	b, _ := json.Marshal(body)
	resp, err := a.client.Post(a.chall+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("pebble-challtestsrv %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("pebble-challtestsrv %s %s: %s %s", path, b, resp.Status, msg)
	}
	return nil
}

// writePebbleConfig writes pebble's JSON config: one profile, so every
// order gets o.Validity (pebble picks a random profile for an order that
// names none).
func writePebbleConfig(path string, o ACMEOptions, listen, mgmt, cert, key string) error {
	validity := uint64(0) // pebble's default, 90 days
	if o.Validity > 0 {
		validity = uint64((o.Validity + time.Second - 1) / time.Second)
	}
	var c struct {
		Pebble map[string]any `json:"pebble"`
	}
	c.Pebble = map[string]any{
		"listenAddress":                  listen,
		"managementListenAddress":        mgmt,
		"certificate":                    cert,
		"privateKey":                     key,
		"httpPort":                       o.HTTPPort,
		"tlsPort":                        o.TLSPort,
		"externalAccountBindingRequired": false,
		"keyAlgorithm":                   "ecdsa",
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"profiles": map[string]any{
			"default": map[string]any{"description": "luma tests", "validityPeriod": validity},
		},
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// freePorts finds n distinct free TCP ports (on 127.0.0.1; the listener
// on ACMEAddr also checks the address exists).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		host := "127.0.0.1"
		if i == 0 {
			host = ACMEAddr
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("test ACME server: listen on %s (is luma-svc up? scripts/svc-addr.sh): %w", host, err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
