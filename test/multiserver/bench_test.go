package multiserver

import (
	"fmt"
	"testing"

	"github.com/luma-deploy/luma/internal/testenv"
)

// BenchmarkDeployServers times one blue-green deploy of the real luma
// binary (2 replicas per server, image already on the servers) against 1, 2
// and 3 servers. Servers deploy in parallel, so the time should barely grow.
//
//	go test -run '^$' -bench DeployServers -benchtime 5x ./test/multiserver
func BenchmarkDeployServers(b *testing.B) {
	v1 := testenv.BuildHello(b, "v1")
	for n := 1; n <= len(servers); n++ {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			name := fmt.Sprintf("msbench%d", n)
			p := &project{name: name, app: name, dir: b.TempDir(), servers: servers[:n], hosts: []string{name + ".test"}}
			b.Cleanup(p.remove)
			p.write(b, v1)
			mustLuma(b, p.dir, "setup")
			mustLuma(b, p.dir, "deploy", "--release", "warm") // sends the image
			b.ResetTimer()
			for i := range b.N {
				mustLuma(b, p.dir, "deploy", "--release", fmt.Sprintf("b%d", i))
			}
		})
	}
}
