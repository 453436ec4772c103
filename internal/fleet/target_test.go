package fleet

import (
	"testing"

	"github.com/luma-deploy/luma/internal/config"
)

func TestTarget(t *testing.T) {
	def := config.SSH{User: "deploy", Port: 2222, Key: "/k", KnownHosts: "/kh", TrustOnFirstUse: true}
	cases := []struct {
		entry, host, user string
		port              int
	}{
		{"web1.example.com", "web1.example.com", "deploy", 2222},
		{"root@web1", "web1", "root", 2222},
		{"ops@10.0.0.5:22", "10.0.0.5", "ops", 22},
		{"[2001:db8::1]:2200", "2001:db8::1", "deploy", 2200},
		{"[::1]", "::1", "deploy", 2222},
	}
	for _, c := range cases {
		tg, err := Target(c.entry, def)
		if err != nil {
			t.Fatalf("%s: %v", c.entry, err)
		}
		o := tg.SSH
		if tg.Server != c.entry || o.Host != c.host || o.User != c.user || o.Port != c.port ||
			o.KeyFile != "/k" || o.KnownHosts != "/kh" || !o.TrustOnFirstUse {
			t.Errorf("%s: got server %q, %+v", c.entry, tg.Server, o)
		}
	}
	if tg, err := Target("localhost", def); err != nil || tg.SSH.Host != "" {
		t.Errorf("localhost must mean the local engine, not SSH: %+v %v", tg, err)
	}
	if _, err := Target("web1:99999", def); err == nil {
		t.Error("port 99999 accepted")
	}
	// Defaults when the project sets none.
	tg, _ := Target("web1", config.SSH{})
	if tg.SSH.User != "root" || tg.SSH.Port != 22 {
		t.Errorf("defaults = %+v", tg.SSH)
	}
}
