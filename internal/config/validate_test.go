package config

import "testing"

// Each checker: inputs that must pass, inputs that must fail.
func TestCheckers(t *testing.T) {
	for _, tt := range []struct {
		name      string
		check     func(string) string
		good, bad []string
	}{
		{"server", checkServer,
			[]string{"localhost", "server1", "web-1.example.com", "example.com.", "deploy@host", "deploy@host:2222", "1.2.3.4", "root@10.0.0.1:22", "[::1]", "[2001:db8::1]:22", "u@[::1]:2222", "[fe80::1%eth0]"},
			[]string{"", "@host", "a@@b", "host:", "host:0", "host:65536", "host:x", "::1", "[::1", "[::1]x", "[1.2.3.4]", "300.1.1.1", "1.2.3", "-host", "host-", "a..b", "ho st", "ssh://host", "user name@host", "a_b"}},
		{"proxy host", checkProxyHost,
			[]string{"blog.com", "localhost", "*.blog.com", "shop.localhost"},
			[]string{"http://blog.com", "blog.com:80", "blog.com/x", "1.2.3.4", "*", "bad_host.com", ""}},
		{"publish", checkPublish,
			[]string{"5432:5432", "127.0.0.1:5432:5432", "53:53/udp", "80:8080/tcp", "[::1]:6379:6379"},
			[]string{"5432", "0:80", "80:65536", "80:80/sctp", "x:80:80", "1:2:3:4", "[::1:80:80", "[1.2.3.4]:80:80", "a:b"}},
		{"volume", checkVolume,
			[]string{"data:/data", "/srv/x:/x", "/srv/x:/x:ro", "my.vol_1:/v:rw,z"},
			[]string{"data", "/x", "./x:/y", "~/x:/y", "data:rel", "/a:/b:xx", "a:b:c:d", "-bad:/x"}},
		{"image", checkImage,
			[]string{"nginx", "my-blog", "postgres:16", "ghcr.io/org/app:v1.2", "localhost:5000/app", "app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			[]string{"", "My-Blog", "app:", "a b", "app:tag:x"}},
		{"name", checkName,
			[]string{"a", "blog", "my-app-2", "0abc"},
			[]string{"", "Blog", "-a", "a-", "a_b", "a.b", "abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcd"}},
		{"env name", checkEnvName,
			[]string{"A", "_x", "DB_PASSWORD", "a1"},
			[]string{"", "1A", "A-B", "A B", "A=B"}},
		{"platform", checkPlatform,
			[]string{"linux/amd64", "linux/arm64/v8"},
			[]string{"amd64", "linux/", "Linux/amd64"}},
	} {
		for _, s := range tt.good {
			if msg := tt.check(s); msg != "" {
				t.Errorf("%s %q refused: %s", tt.name, s, msg)
			}
		}
		for _, s := range tt.bad {
			if tt.check(s) == "" {
				t.Errorf("%s %q accepted", tt.name, s)
			}
		}
	}
}
