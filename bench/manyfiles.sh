#!/bin/sh
# bench/manyfiles.sh — a many-file snapshot: `apctl pull hf:org/many` against
# Hugging Face's own JavaScript client (@huggingface/hub's snapshotDownload,
# bench/hfjs/snapshot.mjs), in the same run, on the same loopback fake hub
# (t/fixtures/fakehub.py).  The snapshot is BENCH_FILES files (default 2000)
# of 14-19 bytes, d000/f000000.txt ..., 1000 a directory.  Best of
# BENCH_RUNS (default 3) runs each, every run into a fresh AP_HOME / cache
# directory.  After each run both results are checked: the number of files,
# and the sha256 of a sample of 26 files against what the hub serves.
# Prints every run (wall, CPU, peak RSS, the requests the hub logged and
# on how many connections), the best times, their ratio and the load
# average at the start and the end.  Nothing is asserted.
#   BENCH_FILES=2000 BENCH_RUNS=3 sh bench/manyfiles.sh
# Needs python3, node and npm (the JS client is installed with `npm ci` in
# bench/hfjs when its node_modules is missing; without node, or when that
# fails, only apctl is timed, and it says so).  SPDX-License-Identifier: MIT
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${AP_BUILD:-$ROOT/build}
RUNS=${BENCH_RUNS:-3}
N=${BENCH_FILES:-2000}
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 missing" >&2; exit 1; }
[ -x "$B/apctl" ] || { echo "bench: $B/apctl missing (make all)" >&2; exit 1; }
T=$(mktemp -d /tmp/ap-bench-many-XXXXXX)
. "$ROOT/bench/lib.sh"
trap bench_hub_cleanup EXIT INT TERM
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# The JS client: node_modules from the lock file, once.
HFJS=$ROOT/bench/hfjs
JS=yes
if ! command -v node >/dev/null 2>&1; then
    echo "bench: node missing: @huggingface/hub not measured"; JS=
elif [ ! -d "$HFJS/node_modules/@huggingface/hub" ]; then
    echo "bench: npm ci in bench/hfjs"
    if ! (cd "$HFJS" && npm ci --no-audit --no-fund >"$T/npm.log" 2>&1); then
        echo "bench: npm ci failed (tail of its log below): @huggingface/hub not measured"
        tail -5 "$T/npm.log"; JS=
    fi
fi
[ -n "$JS" ] && echo "@huggingface/hub $(node -p "require('$HFJS/node_modules/@huggingface/hub/package.json').version"), node $(node --version)"

bench_snapshot_apctl
C1=1111111111111111111111111111111111111111
python3 - "$T/cfg.json" "$N" "$C1" <<'PY'
import json, sys
n, c1 = int(sys.argv[2]), sys.argv[3]
files = {f"d{i // 1000:03d}/f{i:06d}.txt": {"content": f"small file {i}\n"} for i in range(n)}
json.dump({"repos": {"org/many": {"refs": {"main": c1}, "commits": {c1: {"files": files}}}}},
          open(sys.argv[1], "w"))
PY
bench_start_hub "$T/cfg.json" "$T/hub.log"

# check DIR: count the files (regular files and symlinks to them) below DIR,
# and compare the sha256 of 26 of them, spread over the snapshot, with the
# bytes the hub serves for the same path (fetched after the timing).
check() {
    python3 - "$1" "$N" "$HUB" "$C1" <<'PY'
import hashlib, os, sys, urllib.request
root, n, hub, c1 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
count = 0
for d, _, fs in os.walk(root):
    count += sum(1 for f in fs if os.path.isfile(os.path.join(d, f)))
bad = []
for i in sorted({k * n // 25 for k in range(25)} | {n - 1}):
    p = f"d{i // 1000:03d}/f{i:06d}.txt"
    want = hashlib.sha256(urllib.request.urlopen(f"{hub}/org/many/resolve/{c1}/{p}").read()).hexdigest()
    try:
        got = hashlib.sha256(open(os.path.join(root, p), "rb").read()).hexdigest()
    except OSError as e:
        got = str(e)
    if got != want:
        bad.append(p)
print(f"{count} files{'' if count == n else f' (expected {n})'}, sample sha256 "
      + (f"{len(bad)} WRONG: {' '.join(bad[:5])}" if bad else "ok"))
PY
}
# secs CMD...: run it, print its wall time; $T/cpu gets its CPU and peak RSS,
# $T/reqs the requests it made of the hub (and CDN) and on how many
# connections, from the hub's request log.
secs() {
    l0=$(wc -l < "$T/hub.log")
    /usr/bin/time -f '%e %U %S %M' -o "$T/t" "$@" > "$T/out" 2> "$T/err" || {
        echo "bench: failed: $*" >&2; cat "$T/err" >&2; exit 1; }
    awk '{printf "%.2f s CPU (%.2f user, %.2f sys), %d MB peak", $2 + $3, $2, $3, $4 / 1024}' "$T/t" > "$T/cpu"
    tail -n +$((l0 + 1)) "$T/hub.log" | python3 -c '
import collections, json, sys
es = [json.loads(l) for l in sys.stdin]
k = collections.Counter(e["method"] + (" resolve" if "/resolve/" in e["path"] else
                        " paths-info" if "/paths-info/" in e["path"] else " api") for e in es)
what = ", ".join("%d %s" % (v, n) for n, v in sorted(k.items()))
conns = len({(e["server"], e["conn"]) for e in es})
print("%d requests (%s) on %d connections" % (len(es), what, conns))' > "$T/reqs"
    cut -d' ' -f1 "$T/t"; }
best() { sort -n | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "rev $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown), $N files, $RUNS runs each, best counts"
: > "$T/a.times"; : > "$T/j.times"
for r in $(seq "$RUNS"); do
    rm -rf "$T/home"
    s=$(AP_HOME=$T/home secs "$APCTL" pull --quiet hf:org/many)
    echo "$s" >> "$T/a.times"
    echo "run $r: apctl pull            $s s; $(check "$T/home/models/huggingface/org/many")"
    echo "       $(cat "$T/cpu"); $(cat "$T/reqs")"
    if [ -n "$JS" ]; then
        rm -rf "$T/cache"
        s=$(secs node "$HFJS/snapshot.mjs" "$HUB" org/many "$T/cache")
        echo "$s" >> "$T/j.times"
        echo "run $r: hfjs snapshotDownload $s s; $(check "$(cut -d' ' -f1 "$T/out")")"
        echo "       $(cat "$T/cpu"); $(cat "$T/reqs")"
    fi
done
A=$(best < "$T/a.times")
if [ -n "$JS" ]; then
    J=$(best < "$T/j.times")
    echo "$N files: apctl pull $A s, @huggingface/hub snapshotDownload $J s, apctl/hfjs $(ratio "$A" "$J")"
else
    echo "$N files: apctl pull $A s (the JS client not measured)"
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
