package ssh_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/luma-deploy/luma/drivers/ssh"
	"github.com/luma-deploy/luma/internal/testenv"
)

func dial(t *testing.T, o ssh.Options) *ssh.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ssh.Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ping speaks HTTP to the Engine over a stream from DialDocker.
func ping(t *testing.T, c *ssh.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.DialDocker(ctx)
	if err != nil {
		t.Fatalf("DialDocker: %v", err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading /_ping: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/_ping: %s", resp.Status)
	}
}

func TestDialAndDockerSocket(t *testing.T) {
	srv := testenv.SSHD(t)
	c := dial(t, srv.Options())
	if ok, err := c.Interactive(); !ok {
		t.Errorf("PTY session not held: %v", err)
	}
	ping(t, c)
	ping(t, c)
	if c.UsesDialStdio() {
		t.Error("fell back to dial-stdio although streamlocal forwarding is allowed")
	}
	c.Close()
	if _, err := c.DialDocker(context.Background()); err == nil {
		t.Error("DialDocker after Close: no error")
	}
}

// The server also offers RSA; known_hosts holds one key type only. Either
// way the negotiated algorithm must be the recorded one.
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	srv := testenv.SSHD(t)
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			pub, err := os.ReadFile(filepath.Join(srv.Dir, "host_"+typ+".pub"))
			if err != nil {
				t.Fatal(err)
			}
			o := srv.Options()
			o.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			line := fmt.Sprintf("[%s]:%d %s", srv.Host, srv.Port, pub)
			if err := os.WriteFile(o.KnownHosts, []byte(line), 0o600); err != nil {
				t.Fatal(err)
			}
			dial(t, o)
		})
	}
}

func TestUnknownHost(t *testing.T) {
	srv := testenv.SSHD(t)
	o := srv.Options()
	o.KnownHosts = filepath.Join(t.TempDir(), "known_hosts") // does not exist
	_, err := ssh.Dial(context.Background(), o)
	var unknown *ssh.UnknownHostError
	if !errors.As(err, &unknown) {
		t.Fatalf("want UnknownHostError, got %v", err)
	}
	for _, want := range []string{srv.Addr(), "ssh-keyscan -p", "trust_on_first_use", "SHA256:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := os.Stat(o.KnownHosts); !os.IsNotExist(err) {
		t.Errorf("known_hosts written without trust_on_first_use: %v", err)
	}
	// An existing file without the host gives the same error.
	os.WriteFile(o.KnownHosts, []byte("example.com "+srv.HostKey+"\n"), 0o600)
	if _, err := ssh.Dial(context.Background(), o); !errors.As(err, &unknown) {
		t.Fatalf("want UnknownHostError, got %v", err)
	}
}

func TestTrustOnFirstUse(t *testing.T) {
	srv := testenv.SSHD(t)
	o := srv.Options()
	o.KnownHosts = filepath.Join(t.TempDir(), "sub", "known_hosts")
	o.TrustOnFirstUse = true
	c := dial(t, o)
	ping(t, c)
	b, err := os.ReadFile(o.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("[%s]:%d ", srv.Host, srv.Port)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Fatalf("known_hosts = %q, want one line for %s", b, want)
	}
	// Now known: verified without TOFU, and nothing appended again.
	o.TrustOnFirstUse = false
	dial(t, o)
	o.TrustOnFirstUse = true
	dial(t, o)
	b2, _ := os.ReadFile(o.KnownHosts)
	if string(b2) != string(b) {
		t.Errorf("known_hosts changed on a known host: %q", b2)
	}
}

func TestHostKeyMismatch(t *testing.T) {
	srv := testenv.SSHD(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := gossh.NewPublicKey(pub)
	o := srv.Options()
	o.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[%s]:%d %s %s\n", srv.Host, srv.Port, other.Type(), strings.Fields(string(gossh.MarshalAuthorizedKey(other)))[1])
	os.WriteFile(o.KnownHosts, []byte(line), 0o600)

	for _, tofu := range []bool{false, true} {
		o.TrustOnFirstUse = tofu
		_, err := ssh.Dial(context.Background(), o)
		var mismatch *ssh.HostKeyMismatchError
		if !errors.As(err, &mismatch) {
			t.Fatalf("tofu=%v: want HostKeyMismatchError, got %v", tofu, err)
		}
		hostKey, _, _, _, _ := gossh.ParseAuthorizedKey([]byte(srv.HostKey))
		for _, want := range []string{"MISMATCH", srv.Addr(), gossh.FingerprintSHA256(hostKey), o.KnownHosts + ":1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
	}
	if b, _ := os.ReadFile(o.KnownHosts); string(b) != line {
		t.Errorf("known_hosts changed on mismatch: %q", b)
	}
}

func TestAuthErrors(t *testing.T) {
	srv := testenv.SSHD(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	dir := t.TempDir()

	stranger := filepath.Join(dir, "stranger")
	keygen(t, stranger, "")
	o := srv.Options()
	o.KeyFile = stranger
	_, err := ssh.Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") || !strings.Contains(err.Error(), "root@"+srv.Addr()) {
		t.Errorf("unauthorized key: %v", err)
	}

	locked := filepath.Join(dir, "locked")
	keygen(t, locked, "secret passphrase")
	o.KeyFile = locked
	_, err = ssh.Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "encrypted") || !strings.Contains(err.Error(), "ssh-add") {
		t.Errorf("encrypted key without agent: %v", err)
	}
}

func keygen(t *testing.T, file, pass string) {
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", pass, "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
}

func TestDialStdioFallback(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI on PATH for `docker system dial-stdio`")
	}
	srv := testenv.SSHD(t, testenv.NoStreamLocal())
	c := dial(t, srv.Options())
	ping(t, c)
	if !c.UsesDialStdio() {
		t.Error("UsesDialStdio = false with streamlocal forbidden")
	}
	ping(t, c)
}

func TestDockerUnreachable(t *testing.T) {
	srv := testenv.SSHD(t, testenv.NoStreamLocal(), testenv.ForceCommand(`"echo 'sh: docker: not found' >&2; exit 127"`))
	c := dial(t, srv.Options())
	_, err := c.DialDocker(context.Background())
	if err == nil {
		t.Fatal("DialDocker: no error")
	}
	for _, want := range []string{"forwarding to /var/run/docker.sock", "open failed", "dial-stdio", "docker: not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
