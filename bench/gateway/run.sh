#!/bin/sh
# Runs bench_gateway against the gateway (bench_gateway_server: auth, replay and idempotency
# checks, validation, hand-off to the embedded bus) and against nginx serving a static 200 with one
# worker, on loopback, and prints both side by side.
#   BUILD_DIR=build-gateway bench/gateway/run.sh [duration_s] [connections]
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
DURATION=${1:-5}
CONNECTIONS=${2:-64}
GATEWAY_THREADS=${GATEWAY_THREADS:-auto} # auto: the deployment default, half the cores
GATEWAY_INBOX=${GATEWAY_INBOX:-write}     # write (default deployment), fsync (bus.inbox.fsync), off (no inbox)
GENERATOR=$BUILD_DIR/bin/bench_gateway
SERVER=$BUILD_DIR/bin/bench_gateway_server
for f in "$GENERATOR" "$SERVER"; do
  [ -x "$f" ] || { echo "missing $f (cmake --build $BUILD_DIR --target bench_gateway bench_gateway_server)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx not found (Debian package nginx-light)" >&2; exit 1; }

WORK=$(mktemp -d)
SERVER_PID=""; NGINX_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The gateway: its stdin is a fifo held open by this script; closing it stops the server.
mkfifo "$WORK/server.in"
"$SERVER" "$GATEWAY_THREADS" bench-secret "$GATEWAY_INBOX" < "$WORK/server.in" > "$WORK/server.out" 2> "$WORK/server.err" &
SERVER_PID=$!
exec 3> "$WORK/server.in"
for i in $(seq 1 100); do grep -q '^port ' "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
GATEWAY_PORT=$(sed -n 's/^port //p' "$WORK/server.out")
[ -n "$GATEWAY_PORT" ] || { cat "$WORK/server.err" >&2; exit 1; }

# nginx: one worker, a static 200 for every request, on a free loopback port.
NGINX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '{"status":"accepted"}'; }
  }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2> "$WORK/nginx/stderr" 3>&- &
NGINX_PID=$!
for i in $(seq 1 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$NGINX_PORT),1)" 2>/dev/null && break; sleep 0.1
done

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
GW=$("$GENERATOR" --port "$GATEWAY_PORT" --connections "$CONNECTIONS" --duration "$DURATION" --label gateway --raw 3>&-)
NG=$("$GENERATOR" --port "$NGINX_PORT" --connections "$CONNECTIONS" --duration "$DURATION" --label nginx --raw 3>&-)
kill "$NGINX_PID" 2>/dev/null || true
NGINX_PID=""
exec 3>&-
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo "gateway benchmark: $CONNECTIONS keep-alive connections, signed webhooks, ${DURATION}s after 1s warm-up each,"
echo "$(nproc) cores, load average before the run $LOAD_BEFORE (other work on the machine skews both rows)"
printf '%-8s %12s %9s %9s %10s %7s\n' target requests/s 'p50 ms' 'p99 ms' 'p99.9 ms' errors
for row in "$GW" "$NG"; do
  set -- $row
  printf '%-8s %12s %9s %9s %10s %7s\n' "$1" "$2" "$3" "$4" "$5" "$6"
done
set -- $GW; G=$2; GP99=$4
set -- $NG; N=$2
python3 - "$G" "$N" "$GP99" <<'PY'
import sys
g, n, p99 = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"gateway/nginx = {g / n:.2f} (target >= 0.50), gateway p99 = {p99:.3f} ms (target < 2 ms)")
PY
cat "$WORK/server.err" >&2
