#!/usr/bin/env bash
# Builds the test ACME server (test/acme, its own Go module): Let's
# Encrypt's pebble and pebble-challtestsrv (its DNS server), into OUT.
# The tests start their own through internal/testenv (NewACME, StartACME);
# deps.sh calls this so the first test run needs no module download.
#
#   scripts/acme.sh [OUT]          # default OUT: bin/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
out=${1:-$root/bin}
mkdir -p "$out"
cd "$root/test/acme"
CGO_ENABLED=0 go build -o "$out/" \
  github.com/letsencrypt/pebble/v2/cmd/pebble \
  github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv
