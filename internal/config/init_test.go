package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "My Shop")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	written, err := Init(dir, ProjectName(dir))
	if err != nil {
		t.Fatal(err)
	}
	cfg, secrets, gi := filepath.Join(dir, "luma.yml"), filepath.Join(dir, ".luma", "secrets"), filepath.Join(dir, ".gitignore")
	if want := []string{cfg, secrets, gi}; !reflect.DeepEqual(written, want) {
		t.Errorf("written = %v, want %v", written, want)
	}
	c, err := Load(cfg)
	if err != nil {
		t.Fatalf("the template does not load:\n%v", err)
	}
	if c.Name != "my-shop" {
		t.Errorf("name = %q", c.Name)
	}
	if s, err := LoadSecrets(secrets); err != nil || len(s) != 0 {
		t.Errorf("secrets = %v, %v", s, err)
	}
	if fi, err := os.Stat(secrets); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secrets mode = %v, %v", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(gi); string(data) != ".luma/secrets\n" {
		t.Errorf(".gitignore = %q", data)
	}
}

func TestInitGitignore(t *testing.T) {
	for _, tt := range []struct {
		name, before, after string
		changed             bool
	}{
		{"appends", "node_modules/\n", "node_modules/\n.luma/secrets\n", true},
		{"adds missing newline", "bin", "bin\n.luma/secrets\n", true},
		{"already there", "bin\n.luma/secrets\n", "bin\n.luma/secrets\n", false},
		{"already there rooted", "/.luma/secrets\n", "/.luma/secrets\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			gi := filepath.Join(dir, ".gitignore")
			os.WriteFile(gi, []byte(tt.before), 0o644)
			written, err := Init(dir, "shop")
			if err != nil {
				t.Fatal(err)
			}
			if data, _ := os.ReadFile(gi); string(data) != tt.after {
				t.Errorf(".gitignore = %q, want %q", data, tt.after)
			}
			if got := len(written) == 3 && written[2] == gi; got != tt.changed {
				t.Errorf("written = %v, .gitignore changed = %v", written, tt.changed)
			}
		})
	}
}

// Init refuses to overwrite either file, and then writes nothing at all.
func TestInitRefusesToOverwrite(t *testing.T) {
	for _, existing := range []string{"luma.yml", ".luma/secrets"} {
		t.Run(existing, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, existing)
			os.MkdirAll(filepath.Dir(path), 0o700)
			os.WriteFile(path, []byte("keep me"), 0o600)
			_, err := Init(dir, "shop")
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want one naming %s", err, path)
			}
			if data, _ := os.ReadFile(path); string(data) != "keep me" {
				t.Errorf("%s overwritten", existing)
			}
			for _, other := range []string{"luma.yml", ".luma/secrets", ".gitignore"} {
				if other == existing {
					continue
				}
				if _, err := os.Stat(filepath.Join(dir, other)); err == nil {
					t.Errorf("%s written despite the refusal", other)
				}
			}
		})
	}
}

func TestInitRejectsBadProjectName(t *testing.T) {
	dir := t.TempDir()
	if _, err := Init(dir, "Bad_Name"); err == nil || !strings.Contains(err.Error(), "invalid project name") {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "luma.yml")); err == nil {
		t.Error("luma.yml written for a bad name")
	}
}

// The template is the reference users read: it must show every key.
func TestTemplateShowsEveryKey(t *testing.T) {
	tpl := Template("shop")
	for _, keys := range [][]string{topKeys, sshKeys, proxyKeys, acmeKeys, registryKeys, appKeys, sslKeys, buildKeys, envKeys, appProxyKeys, healthKeys, serviceKeys} {
		for _, k := range keys {
			if !strings.Contains(tpl, k+":") {
				t.Errorf("template lacks %q", k)
			}
		}
	}
	// Uncommenting the services example must still give a valid file.
	var b strings.Builder
	in := false
	for _, line := range strings.Split(tpl, "\n") {
		if strings.HasPrefix(line, "# services:") {
			in = true
		}
		if in {
			line = strings.TrimPrefix(line, "# ")
		}
		b.WriteString(line + "\n")
	}
	c, err := Parse("luma.yml", []byte(b.String()))
	if err != nil {
		t.Fatalf("template with services: %v", err)
	}
	if len(c.Services) != 1 || c.Services[0].Ports[0] != "127.0.0.1:5432:5432" {
		t.Errorf("services = %+v", c.Services)
	}
}

// The template's values are the defaults, so loading it must equal
// loading a minimal file.
func TestTemplateMatchesDefaults(t *testing.T) {
	c, err := Parse("luma.yml", []byte(Template("shop")))
	if err != nil {
		t.Fatal(err)
	}
	min := mustParse(t, "luma.yml", "name: shop\napps:\n  web:\n    build: {}\n    servers: [localhost]\n    proxy: {hosts: [shop.localhost], app_port: 3000}\n")
	if !reflect.DeepEqual(c, min) {
		t.Errorf("template %+v\nminimal  %+v", c.Apps[0], min.Apps[0])
	}
}

func TestProjectName(t *testing.T) {
	for in, want := range map[string]string{
		"/src/My_Shop.v2":                 "my-shop-v2",
		"/src/shop":                       "shop",
		"/src/--Weird--":                  "weird",
		"/src/日本":                         "app",
		"/":                               "app",
		"/x/" + strings.Repeat("ab-", 40): strings.Repeat("ab-", 21)[:62],
	} {
		if got := ProjectName(in); got != want {
			t.Errorf("ProjectName(%q) = %q, want %q", in, got, want)
		}
		if got := ProjectName(in); !dnsLabel.MatchString(got) {
			t.Errorf("ProjectName(%q) = %q, not a DNS label", in, got)
		}
	}
}
