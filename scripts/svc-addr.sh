#!/usr/bin/env bash
# Puts 10.231.0.1, the test services' address, on the host: interface
# luma-svc with 10.231.0.1/32 (a dummy, or an empty bridge on kernels
# without the dummy driver; either only holds the address). The test ACME server (pebble,
# internal/testenv.NewACME) listens there, so one address reaches it from
# every luma-proxy: containers of the local engine through their default
# route (docker0 is the host), and the netns test servers (test/servers)
# through their route to 10.231.0.1 via their host veth. 10.231.0.0/16 is
# also made unreachable from the host unless a more specific route (a test
# server's veth) exists, so a test never sends to a server that is down
# through the default route. Idempotent; needs root; scripts/deps.sh runs it.
#
#   scripts/svc-addr.sh          # create (or keep) luma-svc
#   scripts/svc-addr.sh down     # remove it
set -euo pipefail
dev=luma-svc addr=10.231.0.1/32
case "${1:-up}" in
  up)
    ip link show "$dev" >/dev/null 2>&1 ||
      ip link add "$dev" type dummy 2>/dev/null ||
      ip link add "$dev" type bridge
    ip addr replace "$addr" dev "$dev"
    ip link set "$dev" up
    ip route replace unreachable 10.231.0.0/16
    ;;
  down)
    ip link del "$dev" 2>/dev/null || true
    ip route del unreachable 10.231.0.0/16 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 [up|down]" >&2; exit 2 ;;
esac
