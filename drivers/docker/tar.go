package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// TarFiles builds a build context from in-memory files, e.g. a Dockerfile
// and a static binary. modes gives a file's permission bits (0644 when
// absent, e.g. 0755 for a binary). Entries are sorted and undated so the
// same files give the same tar and the Engine's build cache hits.
func TarFiles(files map[string][]byte, modes map[string]int64) (io.Reader, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		mode, ok := modes[n]
		if !ok {
			mode = 0o644
		}
		h := &tar.Header{
			Name:     path.Clean(strings.TrimPrefix(filepath.ToSlash(n), "/")),
			Mode:     mode,
			Size:     int64(len(files[n])),
			Typeflag: tar.TypeReg,
			ModTime:  time.Unix(0, 0),
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// TarDir streams a tar of a build context directory, leaving out what its
// .dockerignore matches. The ignore file is read simply: one glob per line
// (path.Match syntax, also matching everything under a matched directory),
// # comments; ! exceptions are not supported and make it fail.
func TarDir(dir string) (io.ReadCloser, error) {
	ignore, err := readDockerignore(dir)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeDir(pw, dir, ignore))
	}()
	return pr, nil
}

func readDockerignore(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pats []string
	s := bufio.NewScanner(f)
	for line := 1; s.Scan(); line++ {
		p := strings.TrimSpace(s.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			return nil, fmt.Errorf("%s:%d: exceptions (!) are not supported", filepath.Join(dir, ".dockerignore"), line)
		}
		p = path.Clean(strings.TrimPrefix(filepath.ToSlash(p), "/"))
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", filepath.Join(dir, ".dockerignore"), line, err)
		}
		pats = append(pats, p)
	}
	return pats, s.Err()
}

// ignored tells whether rel (slash-separated) or one of its parent
// directories matches a pattern.
func ignored(rel string, pats []string) bool {
	for _, p := range pats {
		for r := rel; r != "." && r != "/"; r = path.Dir(r) {
			if ok, _ := path.Match(p, r); ok {
				return true
			}
		}
	}
	return false
}

func writeDir(w io.Writer, dir string, ignore []string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		// The Engine needs the Dockerfile and .dockerignore even if ignored.
		if ignored(rel, ignore) && rel != "Dockerfile" && rel != ".dockerignore" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = rel
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
