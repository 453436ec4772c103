package e2e

import (
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

	"github.com/luma-deploy/luma/internal/testenv"
	"github.com/luma-deploy/luma/machine"
)

// The SSH connection drops while a deploy over it health-checks: the old
// version serves throughout, status says where the deploy stopped, and
// once sshd is back on the same port the next deploy recovers and deploys.
func TestSSHDroppedMidDeploy(t *testing.T) {
	v1, v2 := images(t)
	s := testenv.SSHD(t)
	a := newFapp(t, "faultssh", "fssh")
	a.server = fmt.Sprintf("%s@%s:%d", s.User, s.Host, s.Port)
	a.ssh = fmt.Sprintf("ssh:\n  key: %s\n  known_hosts: %s", s.KeyFile, s.KnownHosts)
	a.write(t, spec{image: v1})
	mustLuma(t, a.dir, "setup")
	mustLuma(t, a.dir, "deploy", "--release", "r1")
	from := a.activeColor(t)

	l := startLoad(a.host())
	a.write(t, spec{image: v2, env: []string{"UP_AFTER=60s"}, startPeriod: 30 * time.Second})
	r := startLuma(t, a.dir, "", nil, "deploy", "--release", "r2", "--lease", shortLease)
	a.waitState(t, machine.HealthChecking, 30*time.Second)
	killSSHD(t, s) // the listener and the connection's processes
	res := r.wait(60 * time.Second)
	// Not 3 ("rolled back"): its containers and record are left until the
	// server answers again.
	if res.Code != 1 || !strings.Contains(res.Stderr, "could not be rolled back everywhere") {
		t.Errorf("deploy whose server went away: exit %d, want 1 saying it could not roll back", res.Code)
	}
	if rec := a.record(t); rec.State != machine.HealthChecking {
		t.Errorf("record in %s, want health_checking: the server could not be reached to roll back", rec.State)
	}

	restartSSHD(t, s)
	a.waitLeaseExpired(t)
	a.assertStopped(t, machine.HealthChecking, from)
	s3 := spec{image: v2}
	a.write(t, s3)
	rec := luma(t, a.dir, "deploy", "--release", "r3", "--lock-wait", "10s")
	if rec.Code != 0 || !strings.Contains(rec.Stdout, "in health_checking; rolling it back first") {
		t.Errorf("deploy after sshd came back: exit %d, want 0 after recovering the dropped run", rec.Code)
	}
	l.check(t, "the dropped deploy and its recovery")
	a.assertClean(t, s3, otherColor(from), "r3", "deployed")
}

// killSSHD kills the test sshd with SIGKILL: the listener and every
// per-connection process, which sshd puts in sessions of their own.
func killSSHD(t *testing.T, s testenv.SSHServer) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.Dir, "sshd.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	pids := append(descendants(pid), pid)
	if len(pids) < 2 {
		t.Fatalf("sshd %d has no connection process to kill", pid)
	}
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
			t.Errorf("kill sshd process %d: %v", p, err)
		}
	}
}

// descendants lists the processes under pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at ")".
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// restartSSHD starts sshd again with the same configuration, so on the
// same port with the same host keys, and stops it at cleanup.
func restartSSHD(t *testing.T, s testenv.SSHServer) {
	t.Helper()
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(s.Dir, "sshd_config"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not back on %s: %v", s.Addr(), err)
		}
	}
}
