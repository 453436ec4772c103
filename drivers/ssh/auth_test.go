package ssh

import (
	"strings"
	"testing"
)

// Without any key, the error names the config key to set, as luma.yml
// spells it.
func TestNoKeyNamesTheConfigKey(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SSH_AUTH_SOCK", "")
	_, _, err := signers(Options{})
	if err == nil {
		t.Fatal("no error without any key")
	}
	if !strings.Contains(err.Error(), "set ssh.key in luma.yml") || strings.Contains(err.Error(), "key_file") {
		t.Fatalf("error %q does not name ssh.key", err)
	}
}
