package testenv

import "testing"

// Under -short (`make unit`: no Docker Engine, no sshd) every helper that
// needs one skips the test that calls it, whether or not one is there.
func TestShortSkipsEngineAndSSHD(t *testing.T) {
	if !testing.Short() {
		t.Skip("checks what -short does")
	}
	for name, need := range map[string]func(t *testing.T){
		"Docker":     func(t *testing.T) { Docker(t) },
		"BuildHello": func(t *testing.T) { BuildHello(t, "short") },
		"SSHD":       func(t *testing.T) { SSHD(t) },
		"ACME":       func(t *testing.T) { NewACME(t, ACMEOptions{}) },
	} {
		var skipped bool
		t.Run(name, func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			need(t)
		})
		if !skipped {
			t.Errorf("%s did not skip under -short", name)
		}
	}
}
