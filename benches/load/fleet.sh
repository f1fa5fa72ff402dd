#!/usr/bin/env bash
# Authentications per second, one replica against three behind NGINX, on one PostgreSQL:
#
#   benches/load/fleet.sh [SECONDS] [CONNECTIONS]   (defaults: 10, 32)
#
# Builds patrol in release mode; starts a private PostgreSQL (initdb into a temporary folder,
# loopback only; as the `postgres` user when run as root), pushes the example tenant, creates a
# token, then runs wrk (2 threads, bounded by time) against the forward-auth endpoint with that
# token:
#   1. one replica, directly;
#   2. one replica behind NGINX (to show what the balancer's hop costs);
#   3. three replicas behind NGINX (round robin).
# Everything shares this machine's cores, so the figures compare set-ups, not hosts. Needs wrk
# and nginx (`apt-get install wrk nginx`) and PostgreSQL (`apt-get install postgresql`).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${1:-10}
connections=${2:-32}
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
    { echo "$tool is not installed: apt-get install $tool" >&2; exit 2; }
done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed: apt-get install postgresql" >&2; exit 2; }
cargo build --release --quiet -p patrol-cli
patrol=$root/target/release/patrol

work=$(mktemp -d)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); chown postgres "$work"; fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pg_port=$(free_port)
(cd "$work" && "${as_pg[@]}" "$bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >/dev/null)
(cd "$work" && "${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work" start >/dev/null)
"$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres patrol
database=postgres://postgres@127.0.0.1:$pg_port/patrol
"$patrol" tenant push examples/contoso/tenant.toml --database "$database" >/dev/null
admin=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
echo "$admin" >"$work/admin"

# (These set `$address` rather than print it: a command substitution would run them in a
# subshell, and the process ids they record for the clean-up would be lost.)
start_replica() {  # index -> $address
  local out=$work/replica-$1.out
  "$patrol" serve --database "$database" --replica-id "replica-$1" --data-dir "$work/replica-$1" \
    --listen 127.0.0.1:0 --admin-token-file "$work/admin" --decision-log off \
    >"$out" 2>"$work/replica-$1.err" &
  pids+=($!)
  for _ in $(seq 200); do grep -q listening "$out" 2>/dev/null && break; sleep 0.1; done
  address=$(sed -n 's|^listening on http://||p' "$out")
}

start_nginx() {  # name, addresses... -> $address
  local name=$1; shift
  local port; port=$(free_port)
  local dir=$work/nginx-$name
  mkdir -p "$dir"
  {
    echo "master_process off; daemon off; worker_processes 1; error_log $dir/error.log;"
    echo "pid $dir/nginx.pid; events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $dir/b; proxy_temp_path $dir/p;"
    echo "fastcgi_temp_path $dir/f; uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;"
    echo "upstream patrol {"
    for address in "$@"; do echo "server $address;"; done
    echo "keepalive 64; }"
    echo "server { listen 127.0.0.1:$port; location / { proxy_pass http://patrol;"
    echo "proxy_http_version 1.1; proxy_set_header Connection \"\"; } } }"
  } >"$dir/nginx.conf"
  nginx -p "$dir" -c "$dir/nginx.conf" >/dev/null 2>&1 &
  pids+=($!)
  sleep 0.5
  address=127.0.0.1:$port
}

start_replica 0
first=$address
[ -n "$first" ] || { echo "patrol did not start:" >&2; cat "$work/replica-0.err" >&2; exit 1; }
token=$(curl -sf -X POST "http://$first/v1/tenants/contoso/tokens" \
  -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"user": "load@contoso.com", "displayName": "load", "scope": "vso.code",
       "validTo": "'"$(date -u -d '+30 days' +%FT%TZ)"'", "org": "contoso-main"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["patToken"]["token"])')

run() {  # label, address
  local result
  result=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency \
    -H "Authorization: Bearer $token" \
    "http://$2/v1/tenants/contoso/orgs/contoso-main/forward-auth")
  printf '%-34s %s req/s   p50 %s   p99 %s   %s\n' "$1" \
    "$(echo "$result" | sed -n 's/^Requests\/sec: *//p')" \
    "$(echo "$result" | awk '$1=="50%"{print $2}')" \
    "$(echo "$result" | awk '$1=="99%"{print $2}')" \
    "$(echo "$result" | grep -E 'Non-2xx|Socket errors' | tr '\n' ' ')"
}

echo "patrol $("$patrol" --version | cut -d' ' -f2); $(nproc) cores; PostgreSQL $("$bin/postgres" --version | awk '{print $3}');" \
  "wrk -t2 -c$connections -d${seconds}s, forward-auth with one token"
run "one replica, direct" "$first"
start_nginx single "$first"
run "one replica behind NGINX" "$address"
start_replica 1
second=$address
start_replica 2
third=$address
start_nginx fleet "$first" "$second" "$third"
run "three replicas behind NGINX" "$address"
