package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/luma-deploy/luma/internal/tlscert"
)

// LoadSecrets reads a secrets file of KEY=VALUE lines; blank lines and #
// comments are skipped, an "export " prefix and one pair of surrounding
// quotes are tolerated because people paste from .env files, and a
// double-quoted value may span lines, as a pasted PEM certificate does.
// Errors name the file and line but never repeat a line: it may hold a
// value.
func LoadSecrets(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	secrets := map[string]string{}
	first := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE", path, n)
		case checkEnvName(key) != "":
			return nil, fmt.Errorf("%s:%d: invalid name before =: use letters, digits and _, not starting with a digit", path, n)
		case first[key] != 0:
			return nil, fmt.Errorf("%s:%d: %s is set again (first on line %d)", path, n, key, first[key])
		}
		first[key] = n
		value = strings.TrimSpace(value)
		// A double-quoted value may span lines (a PEM certificate).
		if start := n; strings.HasPrefix(value, `"`) && (len(value) == 1 || !strings.HasSuffix(value, `"`)) {
			for {
				if !sc.Scan() {
					return nil, fmt.Errorf("%s:%d: the quote opened for %s is never closed", path, start, key)
				}
				n++
				value += "\n" + strings.TrimSpace(sc.Text())
				if strings.HasSuffix(value, `"`) {
					break
				}
			}
		}
		secrets[key] = unquote(value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read secrets %s: %w", path, err)
	}
	return secrets, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// Env resolves an environment to KEY=VALUE entries: plain ones as written,
// secret ones from secrets. Every missing secret is named in one error,
// along with the file to add it to; values never appear.
func (c *Config) Env(env Environment, secrets map[string]string) ([]string, error) {
	out := make([]string, 0, len(env.Plain)+len(env.Secret))
	out = append(out, env.Plain...)
	var missing []string
	for _, name := range env.Secret {
		v, ok := secrets[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		out = append(out, name+"="+v)
	}
	switch len(missing) {
	case 0:
		return out, nil
	case 1:
		return nil, fmt.Errorf("secret %s is not set in %s: add a line %s=...", missing[0], c.SecretsPath(), missing[0])
	}
	sort.Strings(missing)
	return nil, fmt.Errorf("secrets %s are not set in %s: add a KEY=... line for each", strings.Join(missing, ", "), c.SecretsPath())
}

// RegistryPassword is the value of the secret registry.password names.
// The error names the secret and the file, never a value.
func (c *Config) RegistryPassword(secrets map[string]string) (string, error) {
	if c.Registry == nil {
		return "", nil
	}
	v, ok := secrets[c.Registry.Password]
	if !ok {
		return "", fmt.Errorf("registry.password: secret %s is not set in %s: add a line %s=...", c.Registry.Password, c.SecretsPath(), c.Registry.Password)
	}
	return v, nil
}

// Certificate resolves an app's own certificate from secrets and checks
// that it serves the app's hosts at now (key matches, hosts covered, not
// expired), so a bad one is refused before any server changes. Errors
// name the key and the secrets, never a value.
func (c *Config) Certificate(a *App, secrets map[string]string, now time.Time) (cert, key string, err error) {
	own := a.Proxy.Certificate
	where := fmt.Sprintf("%s: apps.%s.proxy.ssl", c.File, a.Name)
	var missing []string
	for _, name := range []string{own.Certificate, own.PrivateKey} {
		if _, ok := secrets[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("%s: secret %s is not set in %s: add a line NAME=\"-----BEGIN ...\" (newlines as \\n, or the PEM across lines inside the quotes)",
			where, strings.Join(missing, " and "), c.SecretsPath())
	}
	cert, key = secrets[own.Certificate], secrets[own.PrivateKey]
	if err := tlscert.Check(cert, key, a.Proxy.Hosts, now); err != nil {
		return "", "", fmt.Errorf("%s: the certificate in secrets %s and %s: %w", where, own.Certificate, own.PrivateKey, err)
	}
	return cert, key, nil
}
