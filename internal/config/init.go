package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const gitignoreLine = ".luma/secrets"

// Init writes a commented luma.yml and an empty .luma/secrets in dir, and
// keeps the secrets out of git. It never overwrites: if either file exists
// it writes nothing and says which. It returns the files written or changed.
func Init(dir, project string) ([]string, error) {
	if project == "" {
		project = ProjectName(dir)
	}
	if msg := checkName(project); msg != "" {
		return nil, fmt.Errorf("invalid project name: %s", msg)
	}
	cfg := filepath.Join(dir, FileName)
	secrets := filepath.Join(dir, ".luma", "secrets")
	for _, p := range []string{cfg, secrets} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s already exists; not overwriting it", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := writeNew(cfg, []byte(Template(project)), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(secrets), 0o700); err != nil {
		os.Remove(cfg)
		return nil, err
	}
	if err := writeNew(secrets, []byte(secretsTemplate), 0o600); err != nil {
		os.Remove(cfg)
		return nil, err
	}
	written := []string{cfg, secrets}
	gi := filepath.Join(dir, ".gitignore")
	changed, err := ignore(gi, gitignoreLine)
	if err != nil {
		return written, err
	}
	if changed {
		written = append(written, gi)
	}
	return written, nil
}

// writeNew creates a file that must not exist yet, so a race with another
// writer cannot clobber it either.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// ignore appends line to a .gitignore unless it is already there.
func ignore(path, line string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l == line || l == "/"+line {
			return false, nil
		}
	}
	add := line + "\n"
	if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
		add = "\n" + add
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return false, err
	}
	if _, err := f.WriteString(add); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}

// ProjectName turns a directory's name into a valid project name:
// "My_Blog.v2" → "my-blog-v2". Falls back to "app".
func ProjectName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if name := sanitize(filepath.Base(dir)); name != "" {
		return name
	}
	return "app"
}

// sanitize maps s onto a DNS label: lowercase, runs of anything else
// become one -, at most 63 characters. It may return "".
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := b.String()
	if len(name) > 63 {
		name = name[:63]
	}
	return strings.Trim(name, "-")
}
