package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/luma-deploy/luma/drivers/ssh"
)

// SSHServer is a running test sshd on 127.0.0.1 that lets root in with
// KeyFile. KnownHosts holds only its ed25519 host key, although it also
// offers an RSA one, as on a typical server.
type SSHServer struct {
	Host       string
	Port       int
	User       string
	KeyFile    string
	KnownHosts string
	Dir        string // holds the keys, config and logs
	HostKey    string // public ed25519 host key, authorized_keys format
}

// Options are the ssh.Options that reach this server.
func (s SSHServer) Options() ssh.Options {
	return ssh.Options{Host: s.Host, Port: s.Port, User: s.User, KeyFile: s.KeyFile, KnownHosts: s.KnownHosts, Timeout: 10 * time.Second}
}

// Addr is host:port.
func (s SSHServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// SSHDOption changes the test server's configuration.
type SSHDOption func(*sshdConfig)

type sshdConfig struct {
	streamLocal  bool
	permitTTY    bool
	forceCommand string
}

// NoStreamLocal forbids Unix socket forwarding, as some hardened servers
// do, so that Docker calls must fall back to `docker system dial-stdio`.
func NoStreamLocal() SSHDOption { return func(c *sshdConfig) { c.streamLocal = false } }

// NoTTY refuses PTYs (PermitTTY no).
func NoTTY() SSHDOption { return func(c *sshdConfig) { c.permitTTY = false } }

// ForceCommand runs cmd instead of every command a client asks for, e.g.
// to make `docker system dial-stdio` fail.
func ForceCommand(cmd string) SSHDOption { return func(c *sshdConfig) { c.forceCommand = cmd } }

// SSHD starts /usr/sbin/sshd -D on a free port of 127.0.0.1 with keys in a
// temporary directory and stops it at cleanup. Under -short (`make unit`)
// the test is skipped.
func SSHD(t testing.TB, opts ...SSHDOption) SSHServer {
	t.Helper()
	SkipShort(t, "sshd")
	cfg := sshdConfig{streamLocal: true, permitTTY: true}
	for _, o := range opts {
		o(&cfg)
	}
	dir := t.TempDir()
	keygen := func(typ, file string, extra ...string) {
		args := append([]string{"-q", "-t", typ, "-N", "", "-C", "luma-test", "-f", filepath.Join(dir, file)}, extra...)
		if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
			t.Fatalf("testenv: ssh-keygen %s: %v\n%s", typ, err, out)
		}
	}
	keygen("ed25519", "host_ed25519")
	keygen("rsa", "host_rsa", "-b", "2048")
	keygen("ed25519", "id_ed25519")
	userPub := readFile(t, filepath.Join(dir, "id_ed25519.pub"))
	hostPub := strings.TrimSpace(readFile(t, filepath.Join(dir, "host_ed25519.pub")))
	writeFile(t, filepath.Join(dir, "authorized_keys"), userPub)

	port := freePort(t)
	yesNo := map[bool]string{true: "yes", false: "no"}
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowStreamLocalForwarding %s
AllowTcpForwarding yes
PermitTTY %s
LogLevel ERROR
# bash sources ~/.bashrc for sshd sessions only at SHLVL < 2: keep the
# tests off this machine's root shell setup (pyenv init costs ~200 ms and
# its rehash lock hangs sessions when one is killed mid-way).
SetEnv SHLVL=1
`, port, filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "host_rsa"), filepath.Join(dir, "sshd.pid"),
		filepath.Join(dir, "authorized_keys"), yesNo[cfg.streamLocal], yesNo[cfg.permitTTY])
	if cfg.forceCommand != "" {
		config += "ForceCommand " + cfg.forceCommand + "\n"
	}
	writeFile(t, filepath.Join(dir, "sshd_config"), config)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}

	var log bytes.Buffer
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = &log, &log
	// Its own process group: cleanup ends the per-connection children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start sshd: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatalf("testenv: sshd exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: sshd does not listen on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	known := filepath.Join(dir, "known_hosts")
	writeFile(t, known, fmt.Sprintf("[127.0.0.1]:%d %s\n", port, hostPub))
	return SSHServer{
		Host:       "127.0.0.1",
		Port:       port,
		User:       "root",
		KeyFile:    filepath.Join(dir, "id_ed25519"),
		KnownHosts: known,
		Dir:        dir,
		HostKey:    hostPub,
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readFile(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, data string) {
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}
