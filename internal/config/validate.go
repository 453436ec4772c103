package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/reference"
)

// The checks below return "" when a value is fine, else the message to
// show. They only look at syntax: nothing here resolves a host or touches
// Docker.

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	userName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	volName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	platform = regexp.MustCompile(`^[a-z0-9_]+/[a-z0-9_]+(/[a-z0-9_]+)?$`)
)

// checkName accepts DNS labels: names end up in container names, network
// aliases and DNS, so they must be valid in all three.
func checkName(s string) string {
	if dnsLabel.MatchString(s) {
		return ""
	}
	msg := quote(s) + " is not a valid name: use lowercase letters, digits and -, at most 63 characters, not starting or ending with -"
	if fixed := sanitize(s); fixed != "" && fixed != s {
		msg += " (e.g. " + strconv.Quote(fixed) + ")"
	}
	return msg
}

func checkEnvName(s string) string {
	if envName.MatchString(s) {
		return ""
	}
	return "invalid variable name " + quote(s) + ": use letters, digits and _, not starting with a digit"
}

// checkServer accepts localhost, or [user@]host[:port] where host is a DNS
// name, an IPv4 address or a bracketed IPv6 address.
func checkServer(s string) string {
	bad := "unknown servers syntax " + quote(s) + `: use host, user@host or user@host:port (IPv6 in brackets: "[::1]:22")`
	if s == "localhost" {
		return ""
	}
	rest := s
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		if !userName.MatchString(rest[:i]) {
			return bad
		}
		rest = rest[i+1:]
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return bad
		}
		host = rest[1:end]
		switch after := rest[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return bad
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return bad
		}
	} else {
		if i := strings.LastIndex(rest, ":"); i >= 0 {
			host, port = rest[:i], rest[i+1:]
		}
		if strings.Contains(host, ":") {
			return "unknown servers syntax " + quote(s) + `: put IPv6 addresses in brackets, e.g. "[2001:db8::1]:22"`
		}
		if !validHost(host) {
			return bad
		}
	}
	if port != "" || strings.HasSuffix(rest, ":") {
		if checkPort(port) != "" {
			return "unknown servers syntax " + quote(s) + ": the SSH port must be a number from 1 to 65535"
		}
	}
	return ""
}

// validHost accepts DNS host names and IPv4 addresses. Something that
// looks like an IPv4 address must be one: 300.1.1.1 is a typo, not a host.
func validHost(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		a, err := netip.ParseAddr(h)
		return err == nil && a.Is4()
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// checkProxyHost accepts the host names luma-proxy routes on; a leading
// "*." matches any subdomain.
func checkProxyHost(h string) string {
	switch {
	case strings.Contains(h, "://"):
		return "write the host name only, without " + quote(h[:strings.Index(h, "://")+3])
	case strings.ContainsAny(h, "/:"):
		return "write the host name only, without port or path: " + quote(h)
	}
	name := strings.TrimPrefix(h, "*.")
	if !validHost(name) || net4(name) {
		return "invalid host name " + quote(h)
	}
	return ""
}

func net4(h string) bool {
	a, err := netip.ParseAddr(h)
	return err == nil && a.Is4()
}

func checkPort(s string) string {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return "port " + quote(s) + " must be a number from 1 to 65535"
	}
	return ""
}

func checkPortNumber(p int) string {
	if p < 1 || p > 65535 {
		return "must be a port from 1 to 65535, got " + strconv.Itoa(p)
	}
	return ""
}

// checkPublish accepts [hostIP:]hostPort:containerPort[/tcp|udp].
func checkPublish(s string) string {
	bad := "invalid port mapping " + quote(s) + `: use [hostIP:]hostPort:containerPort[/tcp|udp], e.g. "127.0.0.1:5432:5432"`
	rest := s
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		if proto := rest[i+1:]; proto != "tcp" && proto != "udp" {
			return bad
		}
		rest = rest[:i]
	}
	var ip string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]:")
		if end < 0 {
			return bad
		}
		ip, rest = rest[1:end], rest[end+2:]
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is6() {
			return bad
		}
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && ip == "":
		if !net4(parts[0]) {
			return bad
		}
		parts = parts[1:]
	case len(parts) != 2:
		return bad
	}
	for _, p := range parts {
		if msg := checkPort(p); msg != "" {
			return msg + " in " + quote(s)
		}
	}
	return ""
}

// checkVolume accepts volume:/path and /host/path:/path with an optional
// mode. Relative host paths are refused: they would resolve on the server,
// against a directory the user cannot see.
func checkVolume(s string) string {
	bad := "invalid volume " + quote(s) + `: use "name:/path" or "/host/path:/path[:ro]"`
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return bad
	}
	src, dst := parts[0], parts[1]
	switch {
	case strings.HasPrefix(src, "/"):
	case strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~"):
		return "invalid volume " + quote(s) + ": the host path must be absolute (it is a path on the server)"
	case !volName.MatchString(src):
		return bad
	}
	if !strings.HasPrefix(dst, "/") {
		return "invalid volume " + quote(s) + ": the container path must be absolute"
	}
	if len(parts) == 3 {
		for _, m := range strings.Split(parts[2], ",") {
			switch m {
			case "ro", "rw", "z", "Z", "nocopy", "shared", "slave", "private", "rshared", "rslave", "rprivate":
			default:
				return "invalid volume " + quote(s) + ": unknown mode " + quote(m) + " (use ro or rw)"
			}
		}
	}
	return ""
}

// checkImage uses Docker's own reference grammar so that what passes here
// also passes the Engine.
func checkImage(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if _, err := reference.ParseNormalizedNamed(s); err != nil {
		return "invalid image reference " + quote(s) + ": " + strings.TrimPrefix(err.Error(), "invalid reference format: ")
	}
	return ""
}

// checkRegistryServer checks a registry: host[:port], optionally with a
// namespace that pushed builds go under (ghcr.io/acme).
func checkRegistryServer(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return "write the registry without a scheme, e.g. " + quote(s[i+3:])
	}
	host, _, _ := strings.Cut(s, "/")
	n, err := reference.ParseNormalizedNamed(s + "/x")
	if err != nil || reference.Domain(n) != host || strings.HasSuffix(s, "/") {
		return "invalid registry " + quote(s) + ": want host[:port][/namespace], e.g. ghcr.io/acme or registry.example.com:5000"
	}
	return ""
}

// checkSecretName checks a value that names a secret in .luma/secrets.
func checkSecretName(s string) string {
	if s == "" || strings.ContainsAny(s, "= ") || checkEnvName(s) != "" {
		return "must be the name of a secret in .luma/secrets, e.g. REGISTRY_PASSWORD; its value goes in that file, never in luma.yml"
	}
	return ""
}

// checkBuildImage checks the image of an app that builds it: a build
// gets a new digest each time, so only a name with an optional tag fits.
func checkBuildImage(s string) string {
	n, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return ""
	}
	if _, ok := n.(reference.Digested); ok {
		return "names a digest, which a build cannot produce: name the image with a tag, e.g. " + quote(reference.FamiliarName(n)+":1.0")
	}
	return ""
}

func checkPlatform(s string) string {
	if platform.MatchString(s) {
		return ""
	}
	return "invalid platform " + quote(s) + `: use os/arch, e.g. "linux/amd64" or "linux/arm64"`
}

// checkEmail checks the ACME account contact.
func checkEmail(s string) string {
	if _, err := mail.ParseAddress(s); err != nil || strings.ContainsAny(s, "<> /") || !strings.Contains(s, "@") {
		return fmt.Sprintf("%s is not an email address, e.g. email: ops@example.com", quote(s))
	}
	return ""
}

// checkDirectoryURL checks an ACME directory: an https URL, as RFC 8555
// requires.
func checkDirectoryURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Sprintf("%s: want the https URL of an ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory, or production or staging (Let's Encrypt)", quote(s))
	}
	return ""
}

// readCABundle reads a PEM file of CA certificates; messages name it as
// written in luma.yml.
func readCABundle(path, written string) (string, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Sprintf("cannot read %s: %v", written, errors.Unwrap(err))
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return "", fmt.Sprintf("%s holds no PEM certificate", written)
	}
	return string(data), ""
}
