#!/bin/sh
# bench/adaptive.sh — adaptive connections against a server that caps each
# connection (nginx `limit_rate 25m`, loopback): `apctl pull` with its
# default (8 connections adapting up to 16), with `--connections 8`
# (fixed) and `--connections 16` (fixed: the ceiling), against one `curl`
# connection and `aria2c -x8 -s8` (when installed), in the same run.
# Ratios only; nothing is asserted.
# Usage: sh bench/adaptive.sh (after `make all`); BENCH_QUICK=1: 128 MiB.
# BENCH_RUNS: runs of each apctl/aria2c variant (default 3, best kept).
# SPDX-License-Identifier: MIT
set -eu
{
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
MB=512; [ "${BENCH_QUICK:-0}" = 1 ] && MB=128
RUNS=${BENCH_RUNS:-3}
for tool in nginx curl python3; do
    command -v $tool >/dev/null 2>&1 || { echo "bench: $tool missing" >&2; exit 1; }
done
[ -x "$B/apctl" ] || { echo "bench: $B/apctl missing (make all)" >&2; exit 1; }
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T=$(mktemp -d /tmp/ap-bench-adaptive-XXXXXX)
chmod 755 "$T"
. "$ROOT/bench/lib.sh"   # bench_snapshot_apctl, stop_pids
NGINX_PID=
cleanup() {
    stop_pids "$NGINX_PID"
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkdir -p "$T/www" "$T/tmp"
bench_snapshot_apctl
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)

head -c $((MB * 1048576)) /dev/urandom > "$T/www/thr.bin"
SHA=$(sha256sum "$T/www/thr.bin" | cut -d' ' -f1)
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$T/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 1024; }
http {
    access_log $T/access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $T/tmp/body;
    proxy_temp_path $T/tmp/proxy;
    fastcgi_temp_path $T/tmp/fcgi;
    uwsgi_temp_path $T/tmp/uwsgi;
    scgi_temp_path $T/tmp/scgi;
    types { }
    default_type application/octet-stream;
    server { listen 127.0.0.1:$P; root $T/www; limit_rate 25m; }
}
EOF
nginx -p "$T" -c "$T/nginx.conf" -e "$T/error.log" &
NGINX_PID=$!
n=0
until curl -fsS -o /dev/null -r 0-0 "http://127.0.0.1:$P/thr.bin"; do
    n=$((n + 1)); [ $n -gt 100 ] && { echo "bench: nginx did not start" >&2; exit 1; }
    sleep 0.05
done
U=http://127.0.0.1:$P/thr.bin

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# connections of one run: distinct nginx connection serials logged since
conns_since() {
    tail -n +"$1" "$T/access.log" | awk '{ print $NF }' | sort -u | wc -l
}
sed -i 's|access_log .*;|log_format c "$request $status $connection"; access_log '"$T"'/access.log c;|' "$T/nginx.conf"
kill -HUP "$NGINX_PID"; sleep 0.3

t0=$(now); curl -fsS -o "$T/curl.out" "$U"; CURL=$(since "$t0"); rm -f "$T/curl.out"
echo "curl (1 connection): $CURL s"

run_apctl() { # label, extra options
    label=$1; shift
    times=; conns=
    for r in $(seq "$RUNS"); do
        rm -rf "$T/home"
        l=$(($(wc -l < "$T/access.log") + 1))
        t0=$(now)
        AP_HOME=$T/home "$APCTL" pull --quiet "$@" "$U#sha256=$SHA" > /dev/null
        s=$(since "$t0")
        c=$(conns_since $l)
        times="$times $s"; conns="$conns $c"
        echo "apctl $label: $s s, $c connections"
    done
    eval "BEST_$label=$(best $times)"
    eval "CONNS_$label='$conns'"
}
run_apctl adaptive
run_apctl fixed8 --connections 8
run_apctl fixed16 --connections 16   # the ceiling the adaptation aims at
ARIA=
if command -v aria2c >/dev/null 2>&1; then
    times=
    for r in $(seq "$RUNS"); do
        rm -f "$T/aria.out"
        t0=$(now)
        aria2c -q -x8 -s8 -k1M --file-allocation=none -d "$T" -o aria.out "$U"
        times="$times $(since "$t0")"
    done
    ARIA=$(best $times)
    echo "aria2c -x8 -s8: best $ARIA s"
fi
echo
echo "## adaptive.sh: tree $REV, $MB MiB, limit_rate 25m per connection, load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "| measure | time (best of $RUNS) | speed-up vs 1-connection curl ($CURL s) | connections per run |"
echo "|---|---|---|---|"
echo "| apctl pull (8 adapting up to 16) | $BEST_adaptive s | $(ratio "$CURL" "$BEST_adaptive")x |$CONNS_adaptive |"
echo "| apctl pull --connections 8 | $BEST_fixed8 s | $(ratio "$CURL" "$BEST_fixed8")x |$CONNS_fixed8 |"
echo "| apctl pull --connections 16 (the ceiling) | $BEST_fixed16 s | $(ratio "$CURL" "$BEST_fixed16")x |$CONNS_fixed16 |"
[ -n "$ARIA" ] && echo "| aria2c -x8 -s8 | $ARIA s | $(ratio "$CURL" "$ARIA")x | 8 |"
exit 0
}
