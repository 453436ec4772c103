#!/usr/bin/env bash
# Installs and starts what Luma's tests and example need on a fresh Debian
# machine: a running Docker Engine, OpenSSH's sshd, and Go (checked only).
# Idempotent; safe to run before every `make test`.
set -euo pipefail

log() { printf 'deps: %s\n' "$*" >&2; }

need_apt=()
command -v dockerd >/dev/null 2>&1 || need_apt+=(docker.io)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v git >/dev/null 2>&1 || need_apt+=(git)
if [ "${#need_apt[@]}" -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/luma-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/luma-dockerd.log"; tail -20 /var/log/luma-dockerd.log >&2; exit 1; }
fi

command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || { log "Go is missing (expected at /usr/local/go)"; exit 1; }
# The test registry (test/registry) is built now, so its modules are
# fetched once here rather than in the middle of a test.
"$(dirname "$0")/registry.sh" build "${TMPDIR:-/tmp}/luma-test-registry" >/dev/null || { log "building the test registry failed"; exit 1; }
# The test ACME server (test/acme) on 10.231.0.1 (scripts/svc-addr.sh).
"$(dirname "$0")/svc-addr.sh" && "$(dirname "$0")/acme.sh" "${TMPDIR:-/tmp}/luma-test-acme" || { log "test ACME server set-up failed"; exit 1; }

log "ok: docker $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(/usr/sbin/sshd -V 2>&1 | head -1 || true)"
