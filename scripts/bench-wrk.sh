#!/usr/bin/env bash
# Throughput through luma-proxy against the same backend straight, in one
# run (docs/benchmarks.md, "Throughput"): deploys examples/hello (1 replica)
# as project $PROJECT with the luma binary $LUMA (its `luma setup` replaces
# luma-proxy with that binary's), then runs the same closed-loop wrk load
#   (a) through luma-proxy on 127.0.0.1:$PORT with the app's Host header,
#   (b) through luma-proxy at its own address on the project's Docker
#       network, port 80: the same proxy without Docker's userland port
#       forwarder (docker-proxy), which carries published ports for
#       connections to 127.0.0.1 but not for traffic from other hosts,
#   (c) straight to the backend container's address on the project's
#       Docker network, port 3000,
# and prints requests/s and p50/p99 latency of both and what the proxy
# adds. Removes the project's containers and network at the end, leaves
# luma-proxy. The local engine is shared: run it under the engine lock,
#   flock /tmp/luma-engine.lock scripts/bench-wrk.sh
#
# Environment: LUMA (bin/luma), PROJECT (wrkbench), PORT (8080),
# THREADS (2), CONNS (64), DURATION (15s), WARMUP (3s), ROUNDS (1: pairs
# of proxy/direct runs, alternating).
set -euo pipefail

cd "$(dirname "$0")/.."
LUMA=$(realpath "${LUMA:-bin/luma}")
PROJECT=${PROJECT:-wrkbench}
PORT=${PORT:-8080}
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-1}
HOST=$PROJECT.test
export PATH=/usr/local/go/bin:$PATH NO_COLOR=1

log() { printf 'bench-wrk: %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
  log "installing wrk"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

dir=$(mktemp -d /tmp/luma-wrk-XXXXXX)
cleanup() {
  ids=$(docker ps -aq --filter "label=luma.project=$PROJECT")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null
  docker network disconnect -f "$PROJECT-network" luma-proxy >/dev/null 2>&1 || true
  docker network rm "$PROJECT-network" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
cleanup_first=$(docker ps -aq --filter "label=luma.project=$PROJECT")
[ -z "$cleanup_first" ] || docker rm -f $cleanup_first >/dev/null

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=wrk' -o "$dir/hello" ./examples/hello
cp examples/hello/Dockerfile "$dir/"
cat >"$dir/luma.yml" <<EOF
name: $PROJECT
proxy:
  http_port: $PORT
apps:
  $PROJECT:
    build:
      context: .
    servers: ["localhost"]
    replicas: 1
    proxy:
      hosts: ["$HOST"]
      app_port: 3000
    health_check:
      path: /up
      start_period: 5s
      interval: 1s
      timeout: 2s
      retries: 3
EOF
(cd "$dir" && "$LUMA" setup >/dev/null && "$LUMA" deploy --release wrk-1 >/dev/null)

ids=$(docker ps -q --filter "label=luma.project=$PROJECT")
[ "$(echo "$ids" | wc -w)" = 1 ] || { log "want one backend container, got: $ids"; exit 1; }
ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$PROJECT-network\").IPAddress}}" "$ids")
pip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$PROJECT-network\").IPAddress}}" luma-proxy)
proxied=http://127.0.0.1:$PORT/
bridged=http://$pip:80/
direct=http://$ip:3000/
curl -fsS -H "Host: $HOST" "$proxied" >/dev/null
curl -fsS -H "Host: $HOST" "$bridged" >/dev/null
curl -fsS "$direct" >/dev/null

log "$("$LUMA" --version 2>/dev/null || echo "$LUMA"), backend $ids at $ip"
wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Host: $HOST" "$proxied" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -H "Host: $HOST" "$bridged" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" "$direct" >/dev/null

# run NAME URL [HOST]: one wrk run, its output kept in $dir/NAME.
run() {
  local name=$1 url=$2
  shift 2
  echo "== $name: wrk -t$THREADS -c$CONNS -d$DURATION --latency $* $url"
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" | tee "$dir/$name"
}

# field FILE: requests/s, p50 and p99 in ms.
field() {
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50.000%" || $1 == "50%" { p50 = ms($2) }
    $1 == "99.000%" || $1 == "99%" { p99 = ms($2) }
    /Socket errors|Non-2xx/ { err = err " " $0 }
    END { printf "%s %s %s%s\n", rps, p50, p99, err }' "$1"
}

summary=()
for r in $(seq 1 "$ROUNDS"); do
  run "proxy-$r" "$proxied" -H "Host: $HOST"
  run "bridged-$r" "$bridged" -H "Host: $HOST"
  run "direct-$r" "$direct"
  read -r prps pp50 pp99 perr <<<"$(field "$dir/proxy-$r")"
  read -r brps bp50 bp99 berr <<<"$(field "$dir/bridged-$r")"
  read -r drps dp50 dp99 derr <<<"$(field "$dir/direct-$r")"
  summary+=("$(awk -v r="$r" -v prps="$prps" -v pp50="$pp50" -v pp99="$pp99" -v brps="$brps" -v bp50="$bp50" -v bp99="$bp99" -v drps="$drps" -v dp50="$dp50" -v dp99="$dp99" 'BEGIN {
    printf "round %s: via 127.0.0.1:port %.0f req/s p50 %.2f p99 %.2f ms | via proxy address %.0f req/s p50 %.2f p99 %.2f ms | direct %.0f req/s p50 %.2f p99 %.2f ms | luma-proxy alone keeps %.1f%% of req/s, adds p50 %+.2f p99 %+.2f ms",
      r, prps, pp50, pp99, brps, bp50, bp99, drps, dp50, dp99, 100*brps/drps, bp50-dp50, bp99-dp99 }')")
  [ -z "$perr$berr$derr" ] || summary+=("  errors: proxy:$perr bridged:$berr direct:$derr")
done
echo
printf '%s\n' "${summary[@]}"
