#!/usr/bin/env bash
# Load test for `patrol serve`: wrk on loopback against the decision endpoint, bounded by time.
#
#   benches/load/run.sh [SECONDS] [CONNECTIONS] [REQUEST]   (defaults: 10, 16, create-too-long)
#
# Builds patrol in release mode, starts it on a free loopback port with a fresh data directory
# (the example tenant: five seed policies), runs wrk with two threads, prints throughput and
# latency percentiles, and stops patrol. Needs wrk (`apt-get install wrk`). wrk and patrol share
# the machine's cores, so the figures are a floor for a dedicated host.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-16}
request=${3:-create-too-long}
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 2; }
cargo build --release --quiet -p patrol-cli
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
target/release/patrol serve --data-dir "$work/data" --listen 127.0.0.1:0 \
  --decision-log "${DECISION_LOG:-$work/decisions.log}" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 100); do
  grep -q listening "$work/out" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's|^listening on http://||p' "$work/out")
[ -n "$address" ] || { echo "patrol did not start:" >&2; cat "$work/err" >&2; exit 1; }
echo "patrol $(target/release/patrol --version | cut -d' ' -f2) on $address; $(nproc) cores;" \
  "wrk -t2 -c$connections -d${seconds}s; request $request"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s benches/load/post.lua \
  "http://$address/v1/tenants/contoso/decisions" -- "examples/contoso/requests/$request.json" |
  grep -E '^requests:|Socket errors|Non-2xx'
