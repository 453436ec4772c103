// Package setup prepares a server for deploys: it checks the engine, creates
// the project network and starts (or upgrades) luma-proxy.
package setup

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
)

// proxyDockerfile runs the luma binary itself as the proxy: no registry is
// needed, the image is built on the server from the executable.
const proxyDockerfile = `FROM scratch
COPY luma /luma
EXPOSE 80
STOPSIGNAL SIGTERM
ENTRYPOINT ["/luma", "proxy", "run"]
`

// proxyImage reads the luma executable and names the proxy image after its
// digest, so a new luma binary upgrades the proxy and the same one does not.
func proxyImage(exe string) (tag string, bin []byte, err error) {
	if err := checkStatic(exe); err != nil {
		return "", nil, err
	}
	bin, err = os.ReadFile(exe)
	if err != nil {
		return "", nil, fmt.Errorf("read luma executable: %w", err)
	}
	sum := sha256.Sum256(bin)
	return "luma-proxy:" + hex.EncodeToString(sum[:])[:12], bin, nil
}

// checkStatic tells why the luma executable cannot run in the FROM scratch
// proxy image: not a Linux ELF binary (a Mac's), or dynamically linked.
func checkStatic(exe string) error {
	f, err := elf.Open(exe)
	if err != nil {
		return fmt.Errorf("luma executable %s is not a Linux binary", exe)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("luma executable %s is dynamically linked", exe)
		}
	}
	return nil
}
