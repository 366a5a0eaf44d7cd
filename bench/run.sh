#!/bin/sh
# bench/run.sh — the engine against curl and aria2c on loopback nginx.
# Invoked by `make bench` (after `make all`).  BENCH_QUICK=1: smaller sizes.
# Items 1-4 and 6 run `build/apctl pull` (the command users run: resolve via
# the url vendor, fetch, verify, commit to the store, write the catalog
# entry), each run with a fresh, empty AP_HOME.  Items 5 (cancel latency) and
# 7 (digest speed) measure library calls, so they drive the engine through
# build/t/helpers/apfetch (built here from t/helpers/apfetch.c when missing).
# BENCH_SMALL_P: concurrent apctl processes for item 3 (default 8).
# SPDX-License-Identifier: MIT
set -eu
# The whole script is one { } block: sh parses it completely before running,
# so an edit or checkout of this file during a run cannot derail it.
{

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
    BIG_MB=128; THR_MB=64; NSMALL=50; NCANCEL=10
else
    BIG_MB=1024; THR_MB=512; NSMALL=200; NCANCEL=20
fi
RATE=25m

for tool in nginx curl aria2c sha256sum python3; do
    command -v $tool >/dev/null 2>&1 || { echo "bench: $tool missing" >&2; exit 1; }
done
TIME=/usr/bin/time
[ -x $TIME ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)   # others' jobs on the machine disturb the numbers
T=$(mktemp -d /tmp/ap-bench-XXXXXX)
chmod 755 "$T"   # nginx workers may run as another user
. "$ROOT/bench/lib.sh"   # bench_snapshot_apctl, stop_pids
NGINX_PID=
cleanup() {
    stop_pids "$NGINX_PID"
    rm -rf "$T"
}
trap cleanup EXIT INT TERM

# ---- drivers -------------------------------------------------------------------
[ -x "$B/apctl" ] || { echo "bench: $B/apctl missing (make all)" >&2; exit 1; }
bench_snapshot_apctl
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
SMALL_P=${BENCH_SMALL_P:-8}
AF=$B/t/helpers/apfetch
if [ -x "$AF" ]; then
    cp "$AF" "$T/bin/apfetch"; AF=$T/bin/apfetch
else
    AF=$T/apfetch
    ${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Ilib \
        $(pkg-config --cflags libcurl jansson libsodium libcrypto) \
        -I"$ROOT/include" -I"$ROOT/lib" -o "$AF" "$ROOT/t/helpers/apfetch.c" \
        "$B/libartifactprov.a" \
        $(pkg-config --libs libcurl jansson libsodium libcrypto) -ldl -lpthread -lm
fi

# ---- data + nginx ------------------------------------------------------------
mkdir -p "$T/www/s" "$T/out" "$T/tmp"
echo "bench: generating data in $T (big ${BIG_MB} MiB, throttled ${THR_MB} MiB, ${NSMALL} x 256 KiB)"
head -c $((BIG_MB * 1048576)) /dev/urandom > "$T/www/big.bin"
head -c $((THR_MB * 1048576)) /dev/urandom > "$T/www/thr.bin"
i=0
while [ $i -lt $NSMALL ]; do
    head -c 262144 /dev/urandom > "$T/www/s/f$i.bin"; i=$((i + 1))
done
BIG_SHA=$(sha256sum "$T/www/big.bin" | cut -d' ' -f1)
THR_SHA=$(sha256sum "$T/www/thr.bin" | cut -d' ' -f1)

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P1=$(freeport); P2=$(freeport)
cat > "$T/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 1024; }
http {
    access_log off;
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
    server { listen 127.0.0.1:$P1; root $T/www; }
    server { listen 127.0.0.1:$P2; root $T/www; limit_rate $RATE; }
}
EOF
nginx -p "$T" -c "$T/nginx.conf" -e "$T/error.log" &
NGINX_PID=$!
n=0
until curl -fsS -o /dev/null "http://127.0.0.1:$P1/s/f0.bin"; do
    n=$((n + 1)); [ $n -gt 100 ] && { echo "bench: nginx did not start" >&2; cat "$T/error.log" >&2; exit 1; }
    sleep 0.05
done
U1=http://127.0.0.1:$P1
U2=http://127.0.0.1:$P2

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
verdict() { if "$@"; then echo met; else echo "NOT met"; fi; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }
fresh() { rm -rf "$T/out" "$T/home"; mkdir -p "$T/out" "$T/home"; }
# apctl pull with the fresh store root $T/home (call fresh first)
apull() { AP_HOME=$T/home "$APCTL" pull "$@"; }
# check an `apctl pull --json` output: ready, the expected size, file present
okjson() {
    python3 - "$1" "$2" <<'PY' || { echo "bench: apctl pull failed: $(head -c 600 "$1")" >&2; exit 1; }
import json, os, sys
d = json.load(open(sys.argv[1]))
f = d["files"]
assert d["status"] == "ready", d["status"]
assert len(f) == 1 and f[0]["size"] == int(sys.argv[2]), f
assert os.path.getsize(f[0]["path"]) == int(sys.argv[2])
PY
}

ROWS=$T/rows
: > "$ROWS"
row() { echo "| $1 | $2 | $3 | $4 |" | tee -a "$ROWS"; }

echo "bench: $APCTL pull (items 1-4, 6); engine driver $AF (items 5, 7)"
echo

# ---- (1) unthrottled big file --------------------------------------------------
c1=; c2=; e1=
for k in 1 2 3; do   # curl -o to the page cache varies most (0.98 ... 2.6 s): best of 3
    fresh; t0=$(now); curl -fsS -o "$T/out/c.bin" "$U1/big.bin"; c1="$c1 $(since $t0)"
    fresh; t0=$(now); curl -fsS -o "$T/out/c.bin" "$U1/big.bin" && sha256sum "$T/out/c.bin" >/dev/null; c2="$c2 $(since $t0)"
    fresh; t0=$(now)
    AP_HOME=$T/home $TIME -v -o "$T/time.txt" "$APCTL" pull --json \
        "$U1/big.bin#sha256=$BIG_SHA" > "$T/e.json" || true
    e1="$e1 $(since $t0)"
    okjson "$T/e.json" $((BIG_MB * 1048576))
    rss=$(awk -F: '/Maximum resident/ { gsub(/ /, "", $2); print $2 }' "$T/time.txt")
    [ -z "${RSS:-}" ] || [ "$rss" -gt "$RSS" ] && RSS=$rss
done
C1=$(best $c1); C2=$(best $c2); E1=$(best $e1)
echo "bench: (1) all runs, s: curl -o:$c1; curl+sha256sum:$c2; apctl:$e1"
r=$(ratio $E1 $C1); row "(1a) ${BIG_MB} MiB unthrottled: \`apctl pull\` (verified, committed) vs \`curl -o\`" "${E1} s vs ${C1} s" "${r}x (target <= 1.15)" "$(verdict le $r 1.15)"
r=$(ratio $E1 $C2); row "(1b) same vs \`curl -o && sha256sum\`" "${E1} s vs ${C2} s" "${r}x (target <= 0.80)" "$(verdict le $r 0.80)"
RSS_MB=$(awk -v k=$RSS 'BEGIN { printf "%.1f", k / 1024 }')
row "(4) peak RSS of \`apctl pull\` during (1)" "${RSS_MB} MiB" "target <= 32 MiB" "$(verdict le $RSS_MB 32)"

# ---- (2) throttled: limit_rate per connection --------------------------------
fresh; t0=$(now); curl -fsS -o "$T/out/c.bin" "$U2/thr.bin"; CT=$(since $t0)
a=; e=
for k in 1 2; do
    fresh; t0=$(now)
    aria2c -q -x8 -s8 -k1M --file-allocation=none --allow-overwrite=true \
        --auto-file-renaming=false -d "$T/out" -o a.bin "$U2/thr.bin"
    a="$a $(since $t0)"
    fresh; t0=$(now); apull --json "$U2/thr.bin#sha256=$THR_SHA" > "$T/e.json" || true; e="$e $(since $t0)"
    okjson "$T/e.json" $((THR_MB * 1048576))
done
AT=$(best $a); ET=$(best $e)
echo "bench: (2) all runs, s: curl: $CT; aria2c:$a; apctl:$e"
r=$(ratio $CT $ET); row "(2a) ${THR_MB} MiB, limit_rate $RATE/conn: \`apctl pull\` speed-up vs 1-connection curl" "${ET} s vs ${CT} s" "${r}x (target >= 6)" "$(verdict ge $r 6)"
r=$(ratio $ET $AT); row "(2b) same vs \`aria2c -x8 -s8\`" "${ET} s vs ${AT} s" "${r}x (target <= 1.10)" "$(verdict le $r 1.10)"

# ---- (3) many small files ------------------------------------------------------
: > "$T/alist"; : > "$T/elist"
i=0
while [ $i -lt $NSMALL ]; do
    echo "$U1/s/f$i.bin" >> "$T/alist"
    echo "$U1/s/f$i.bin#sha256=$(sha256sum "$T/www/s/f$i.bin" | cut -d' ' -f1)" >> "$T/elist"
    i=$((i + 1))
done
a=; e=
for k in 1 2 3; do
    fresh; t0=$(now)
    aria2c -q -j8 --file-allocation=none --allow-overwrite=true -d "$T/out/a" -i "$T/alist"
    a="$a $(since $t0)"
    fresh; t0=$(now)
    # one apctl call with all the references, run as $SMALL_P concurrent jobs
    AP_HOME=$T/home xargs "$APCTL" pull --quiet --jobs "$SMALL_P" < "$T/elist" \
        || { echo "bench: the apctl pull of item 3 failed" >&2; exit 1; }
    e="$e $(since $t0)"
    # outside the timing: every reference has a ready catalog entry, all fetched
    AP_HOME=$T/home "$APCTL" ls --json > "$T/ls.json"
    python3 - "$T/ls.json" "$NSMALL" <<'PY' || { echo "bench: item 3 catalog check failed: $(head -c 600 "$T/ls.json")" >&2; exit 1; }
import json, sys
d = json.load(open(sys.argv[1]))
d = d if isinstance(d, list) else d.get("entries", d)
n = int(sys.argv[2])
assert len(d) == n, len(d)
assert all(e["status"] == "ready" for e in d)
assert sum(e["fetched_bytes"] for e in d) == n * 262144
PY
done
AS=$(best $a); ES=$(best $e)
echo "bench: (3) all runs, s: aria2c:$a; apctl:$e"
r=$(ratio $ES $AS); row "(3) $NSMALL x 256 KiB: \`apctl pull --jobs $SMALL_P\` with $NSMALL refs (verified), vs \`aria2c -j8 -i list\`" "${ES} s vs ${AS} s" "${r}x (target <= 1.20)" "$(verdict le $r 1.20)"

# ---- (5) cancel latency (library call: apfetch) -----------------------------------
fresh; t0=$(now); "$AF" -s "$THR_SHA" "$U2/thr.bin" "$T/out/e.bin" > "$T/e.json" || true; FT=$(since $t0)
grep -q '"status":0' "$T/e.json" || { echo "engine failed: $(cat "$T/e.json")" >&2; exit 1; }
: > "$T/lat"
i=0
while [ $i -lt $NCANCEL ]; do
    fresh
    at=$(awk -v s=$i -v t=$FT 'BEGIN { srand(s * 7919 + 17); printf "%d", 30 + rand() * (t * 1000 * 0.8 - 30) }')
    "$AF" -C "$at" "$U2/thr.bin" "$T/out/e.bin" > "$T/e.json" || true
    if grep -q '"status":-10' "$T/e.json"; then
        jget "$(cat "$T/e.json")" cancel_ms >> "$T/lat"
    else
        echo "bench: cancel run $i finished before the cancel at $at ms" >&2
    fi
    i=$((i + 1))
done
MED=$(sort -n "$T/lat" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
MAX=$(sort -n "$T/lat" | tail -1)
ok=NO; le $MED 50 && le $MAX 200 && ok=yes
row "(5) cancel latency, $NCANCEL cancels at random points" "median ${MED} ms, max ${MAX} ms" "target median <= 50, max <= 200" "$( [ $ok = yes ] && echo met || echo 'NOT met')"

# ---- (6) kill -9 at ~50 % then rerun ------------------------------------------------
# The kill is sent when apctl's own progress events (--events, one JSON line
# per event on stderr, PROGRESS every 100 ms) first report >= 50 % of the
# bytes received.
fresh
KILLED=$(AP_HOME=$T/home python3 - "$APCTL" "$U2/thr.bin#sha256=$THR_SHA" $((THR_MB * 1048576)) <<'PY'
import json, os, signal, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen([sys.argv[1], "pull", "--quiet", "--events", sys.argv[2]],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
done, total = 0, int(sys.argv[3])  # a bare URL has no size: total is 0 in events
for line in p.stderr:
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    done = ev.get("done", 0)
    if done * 2 >= total:
        os.kill(p.pid, signal.SIGKILL)
        break
p.wait()
if p.returncode != -signal.SIGKILL:
    sys.stderr.write("bench: (6) apctl pull ended (status %d) before the kill\n" % p.returncode)
print("%.1f %.2f" % (100.0 * done / total, time.monotonic() - t0))
PY
)
KPC=${KILLED% *}; half=${KILLED#* }
CLAIMED=$(python3 -c '
import glob, json, sys
t = 0
for p in glob.glob(sys.argv[1] + "/staging/*.state"):
    t += sum(e - s for s, e in json.load(open(p))["done"])
print(t)' "$T/home" 2>/dev/null || echo 0)
apull --json "$U2/thr.bin#sha256=$THR_SHA" > "$T/e.json" || true
okjson "$T/e.json" $((THR_MB * 1048576))
RB=$(jget "$(cat "$T/e.json")" fetched_bytes)
TOT=$((THR_MB * 1048576))
pc=$(awk -v a=$RB -v b=$TOT 'BEGIN { printf "%.1f", 100 * a / b }')
cl=$(awk -v a=$CLAIMED -v b=$TOT 'BEGIN { printf "%.1f", 100 * a / b }')
row "(6) kill -9 of \`apctl pull\` at ${half} s (progress said ${KPC} % received) of the ${THR_MB} MiB throttled pull, rerun" "sidecar had ${cl} %; rerun fetched ${pc} %" "target <= 55 %" "$(verdict le $pc 55)"

# ---- (7) digest speed (library call: apfetch -H) ------------------------------------------------------------------
cat "$T/www/big.bin" > /dev/null
h=; for k in 1 2 3; do h="$h $(jget "$("$AF" -H "$T/www/big.bin")" mb_s)"; done
H=$(printf '%s\n' $h | sort -g | tail -1)
row "(7) apx_sha256_file on ${BIG_MB} MiB (page cache, libcrypto)" "${H} MB/s" "target >= 1000 MB/s" "$(verdict ge $H 1000)"

echo
echo "## Results (tree $REV, BENCH_QUICK=$QUICK, $(nproc) cores, $(uname -r), load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo
echo "| measure | measured | ratio / target | verdict |"
echo "|---|---|---|---|"
cat "$ROWS"
exit 0
}
