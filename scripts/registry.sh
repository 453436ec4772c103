#!/usr/bin/env bash
# Builds the test registry (test/registry: go-containerregistry's registry
# behind basic auth, its own Go module) and, with `run`, starts it on
# 127.0.0.1. The tests start their own through internal/testenv
# (NewRegistry, StartRegistry); deps.sh calls `build` so the first test run
# needs no module download.
#
#   scripts/registry.sh build [OUT]          # default OUT: bin/luma-test-registry
#   REGISTRY_PASSWORD=... scripts/registry.sh run [ADDR] [USER]
#       # default ADDR 127.0.0.1:5000, USER luma; prints ADDR once it listens
#
# The password is read from REGISTRY_PASSWORD, never from argv. Docker
# treats 127.0.0.0/8 registries as insecure, so it pushes and pulls there
# over plain HTTP with no daemon configuration.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="/usr/local/go/bin:$PATH"
cmd=${1:-build}
out=${2:-$root/bin/luma-test-registry}
case "$cmd" in
  build)
    (cd "$root/test/registry" && CGO_ENABLED=0 go build -o "$out" .)
    ;;
  run)
    bin=$root/bin/luma-test-registry
    (cd "$root/test/registry" && CGO_ENABLED=0 go build -o "$bin" .)
    : "${REGISTRY_PASSWORD:?set REGISTRY_PASSWORD}"
    exec "$bin" -addr "${2:-127.0.0.1:5000}" -user "${3:-luma}" -password-env REGISTRY_PASSWORD
    ;;
  *)
    echo "usage: $0 build [OUT] | run [ADDR] [USER]" >&2; exit 2 ;;
esac
