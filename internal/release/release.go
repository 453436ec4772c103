// Package release names a release: the git commit of the project being
// deployed, so that `luma status` and container labels tell which code runs.
package release

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// ID is the short git SHA of dir's checkout with "-dirty" when the tree has
// uncommitted changes, or a UTC timestamp when dir is not in a git checkout.
func ID(ctx context.Context, dir string, now time.Time) string {
	sha, err := git(ctx, dir, "rev-parse", "--short", "HEAD")
	if err != nil || sha == "" {
		return now.UTC().Format("20060102150405")
	}
	status, err := git(ctx, dir, "status", "--porcelain", "--untracked-files=no")
	if err == nil && status != "" {
		sha += "-dirty"
	}
	return sha
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}
