package release

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

func TestIDOutsideGitIsTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC)
	if got := ID(context.Background(), t.TempDir(), now); got != "20261126010203" {
		t.Fatalf("ID = %q", got)
	}
}

func TestIDCleanAndDirty(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	f := filepath.Join(dir, "a")
	os.WriteFile(f, []byte("1"), 0o644)
	run("add", "a")
	run("commit", "-qm", "one")
	clean := ID(context.Background(), dir, time.Now())
	if !regexp.MustCompile(`^[0-9a-f]{7,}$`).MatchString(clean) {
		t.Fatalf("clean ID = %q", clean)
	}
	os.WriteFile(f, []byte("2"), 0o644)
	if got := ID(context.Background(), dir, time.Now()); got != clean+"-dirty" {
		t.Fatalf("dirty ID = %q, want %q", got, clean+"-dirty")
	}
}
