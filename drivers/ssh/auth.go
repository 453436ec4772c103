package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// signers returns the keys to offer, in order: KeyFile alone when set, else
// the agent's keys then ~/.ssh/id_ed25519 and ~/.ssh/id_rsa. The returned
// closer releases the agent socket.
func signers(o Options) ([]ssh.Signer, func(), error) {
	ag, closeAgent := dialAgent()
	if o.KeyFile != "" {
		s, err := loadKey(o.KeyFile, ag)
		if err != nil {
			closeAgent()
			return nil, nil, err
		}
		return s, closeAgent, nil
	}

	var out []ssh.Signer
	if ag != nil {
		if s, err := ag.Signers(); err == nil {
			out = append(out, s...)
		}
	}
	var encrypted []string
	for _, name := range []string{"id_ed25519", "id_rsa"} {
		path := filepath.Join(homeDir(), ".ssh", name)
		s, err := loadKey(path, nil)
		switch {
		case err == nil:
			out = append(out, s...)
		case errors.Is(err, os.ErrNotExist):
		case errors.Is(err, errEncrypted):
			encrypted = append(encrypted, path)
		default:
			closeAgent()
			return nil, nil, err
		}
	}
	if len(out) == 0 {
		closeAgent()
		if len(encrypted) > 0 {
			return nil, nil, fmt.Errorf("ssh key %s is encrypted and no ssh-agent holds it: run ssh-add %s", encrypted[0], encrypted[0])
		}
		return nil, nil, errors.New("no ssh key: set ssh.key in luma.yml, start ssh-agent (SSH_AUTH_SOCK) or create ~/.ssh/id_ed25519")
	}
	return out, closeAgent, nil
}

var errEncrypted = errors.New("encrypted key")

// loadKey reads one private key. An encrypted key is used through the agent
// when the agent holds it: Luma never prompts for a passphrase.
func loadKey(path string, ag agent.ExtendedAgent) ([]ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w", err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err == nil {
		return []ssh.Signer{s}, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("ssh key %s: %w", path, err)
	}
	if ag != nil && missing.PublicKey != nil {
		if all, err := ag.Signers(); err == nil {
			want := missing.PublicKey.Marshal()
			for _, s := range all {
				if bytes.Equal(s.PublicKey().Marshal(), want) {
					return []ssh.Signer{s}, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("ssh key %s is encrypted and no ssh-agent holds it: run ssh-add %s: %w", path, path, errEncrypted)
}

// dialAgent connects to SSH_AUTH_SOCK; nil when there is no agent.
func dialAgent() (agent.ExtendedAgent, func()) {
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, func() {}
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		return nil, func() {}
	}
	return agent.NewClient(c), func() { c.Close() }
}
