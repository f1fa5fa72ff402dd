#!/usr/bin/env bash
# Load test for `patrol serve`: the decision endpoint on loopback, bounded by time.
#
#   benches/load/run.sh [SECONDS] [CONNECTIONS] [REQUEST]   (defaults: 10, 16, create-too-long)
#
# Builds patrol in release mode (or uses PATROL_BIN, a `patrol` binary built beforehand, to
# compare two builds), starts it on a free loopback port with a fresh data directory (the
# example tenant: five seed policies), loads it, prints throughput and latency percentiles, and
# stops patrol.
#
# - As fast as it answers (the default): wrk, two threads, CONNECTIONS connections kept busy.
#   Needs wrk (`apt-get install wrk`).
# - At a fixed rate: RATE=<decisions per second> sends that many, spread over CONNECTIONS
#   connections, with hey (`apt-get install hey`); latency at a moderate load, not the maximum.
#
# The load generator and patrol share the machine's cores, so the figures are a floor for a
# dedicated host. DECISION_LOG=off turns the decision log off.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-16}
request=${3:-create-too-long}
rate=${RATE:-}
if [ -n "$rate" ]; then
  command -v hey >/dev/null || { echo "hey is not installed: apt-get install hey" >&2; exit 2; }
else
  command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 2; }
fi
patrol=${PATROL_BIN:-}
if [ -z "$patrol" ]; then
  cargo build --release --quiet -p patrol-cli
  patrol=target/release/patrol
fi
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$patrol" serve --data-dir "$work/data" --listen 127.0.0.1:0 \
  --decision-log "${DECISION_LOG:-$work/decisions.log}" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do
  grep -q listening "$work/out" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's|^listening on http://||p' "$work/out")
[ -n "$address" ] || { echo "patrol did not start:" >&2; cat "$work/err" >&2; exit 1; }
url="http://$address/v1/tenants/contoso/decisions"
body="examples/contoso/requests/$request.json"
if [ -n "$rate" ]; then
  echo "patrol $("$patrol" --version | cut -d' ' -f2) on $address; $(nproc) cores;" \
    "hey -c$connections -z${seconds}s at $rate decisions/s; request $request"
  # hey's rate is per connection.
  per_connection=$(( (rate + connections - 1) / connections ))
  hey -z "${seconds}s" -c "$connections" -q "$per_connection" -m POST \
    -T application/json -D "$body" "$url" |
    awk '/Requests\/sec/ { rate = $2 }
         /^ +(50|90|99)% in/ { sub("%", "", $1); p[$1] = $3 * 1e6 }
         /^ +\[[0-9]+\]/ { status[$1] += $2 }
         END {
           printf "requests: %.0f per second; p50 %.0f µs, p90 %.0f µs, p99 %.0f µs; status", rate, p[50], p[90], p[99]
           for (s in status) printf " %s x%d", s, status[s]
           print ""
         }'
else
  echo "patrol $("$patrol" --version | cut -d' ' -f2) on $address; $(nproc) cores;" \
    "wrk -t2 -c$connections -d${seconds}s; request $request"
  wrk -t2 -c"$connections" -d"${seconds}s" --latency -s benches/load/post.lua "$url" -- "$body" |
    grep -E '^requests:|Socket errors|Non-2xx'
fi
