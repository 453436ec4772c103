package proxy

import (
	"context"
	"testing"

	"github.com/luma-deploy/luma/drivers"
	"github.com/luma-deploy/luma/proxy/protocol"
)

// Port claims replace the project's earlier one and survive a restart.
func TestPortClaimsPersist(t *testing.T) {
	opts := testOptions(t)
	ctx := context.Background()
	p1 := startProxy(t, opts)
	for _, c := range []drivers.PortClaim{{Project: "shop", HTTP: 80}, {Project: "blog", HTTP: 80, HTTPS: 443}, {Project: "shop", HTTP: 8080}} {
		if resp := p1.handle(ctx, protocol.Request{Op: protocol.OpClaimPorts, Claim: &c}); resp.Error != "" {
			t.Fatal(resp.Error)
		}
	}
	if resp := p1.handle(ctx, protocol.Request{Op: protocol.OpClaimPorts, Claim: &drivers.PortClaim{Project: "x"}}); resp.Error == "" {
		t.Fatal("a claim without an HTTP port was kept")
	}
	p1.stop()
	opts.SocketPath = shortSocketPath(t)
	p2 := startProxy(t, opts)
	got := p2.handle(ctx, protocol.Request{Op: protocol.OpPortClaims}).Claims
	if len(got) != 2 || got[0] != (drivers.PortClaim{Project: "blog", HTTP: 80, HTTPS: 443}) || got[1] != (drivers.PortClaim{Project: "shop", HTTP: 8080}) {
		t.Fatalf("claims after a restart: %+v", got)
	}
}
