#!/bin/sh
# bench/smallfiles.sh — one job of many files against its peers, in the
# same run, on the same loopback server (t/fixtures/fakehub.py):
#   (a) a snapshot of 200 files of 256 KiB: `apctl pull hf:org/small` (one
#       job: resolve, fetch, verify, commit, catalog entry, views) against
#       `aria2c -j8` on the same 200 resolve URLs;
#   (b) a many-file snapshot (BENCH_MANY files of 16 bytes, default 10000):
#       `apctl pull` against `aria2c -j8` on the same URLs, and against
#       huggingface_hub's snapshot_download when it is installed (it is
#       skipped, and said so, when it is not; bench/manyfiles.sh times
#       Hugging Face's JavaScript client, @huggingface/hub, on such a
#       snapshot).
# Every timing is wall time of the whole command, a fresh AP_HOME / output
# directory each run; BENCH_RUNS runs each (default 3), the median counts.
# Results go to stdout as a table with the ratios; bench/RESULTS.md keeps
# them.  SPDX-License-Identifier: MIT
set -eu
{
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${AP_BUILD:-$ROOT/build}
RUNS=${BENCH_RUNS:-3}
MANY=${BENCH_MANY:-10000}
for tool in aria2c python3; do
    command -v $tool >/dev/null 2>&1 || { echo "bench: $tool missing" >&2; exit 1; }
done
[ -x "$B/apctl" ] || { echo "bench: $B/apctl missing (make all)" >&2; exit 1; }
T=$(mktemp -d /tmp/ap-bench-small-XXXXXX)
. "$ROOT/bench/lib.sh"
trap bench_hub_cleanup EXIT INT TERM
bench_snapshot_apctl
C1=1111111111111111111111111111111111111111
python3 - "$T/cfg.json" "$MANY" <<PY
import json, sys
many = int(sys.argv[2])
small = {f"s/f{i:03d}.bin": {"generate": {"size": 262144, "seed": i}} for i in range(200)}
tiny = {f"d{i // 1000:03d}/f{i:06d}.txt": {"content": f"small file {i}\n"} for i in range(many)}
json.dump({"repos": {"org/small": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": small}}},
                     "org/many": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": tiny}}}}},
          open(sys.argv[1], "w"))
PY
bench_start_hub "$T/cfg.json" /dev/null
python3 - "$T" "$HUB" "$C1" "$MANY" <<'PY'
import sys
t, hub, c1, many = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open(f"{t}/small.list", "w") as f:
    for i in range(200):
        f.write(f"{hub}/org/small/resolve/{c1}/s/f{i:03d}.bin\n  out=s/f{i:03d}.bin\n")
with open(f"{t}/many.list", "w") as f:
    for i in range(many):
        p = f"d{i // 1000:03d}/f{i:06d}.txt"
        f.write(f"{hub}/org/many/resolve/{c1}/{p}\n  out={p}\n")
PY

secs() { /usr/bin/time -f %e -o "$T/t" "$@" > /dev/null 2> "$T/err" || {
    echo "bench: failed: $*" >&2; cat "$T/err" >&2; exit 1; }; cat "$T/t"; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
run_apctl() {   # REF
    for r in $(seq "$RUNS"); do
        rm -rf "$T/home"; AP_HOME=$T/home secs "$APCTL" pull --quiet "$1"
    done | median
}
run_aria() {    # LIST
    for r in $(seq "$RUNS"); do
        rm -rf "$T/out"
        secs aria2c -q -j8 -x1 --allow-overwrite=true --auto-file-renaming=false \
            --file-allocation=none -d "$T/out" -i "$1"
    done | median
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "rev $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown), load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs, median"
A=$(run_apctl hf:org/small); R=$(run_aria "$T/small.list")
echo "(a) 200 x 256 KiB snapshot: apctl pull ${A} s, aria2c -j8 ${R} s, ratio $(ratio "$A" "$R")"
A=$(run_apctl hf:org/many); R=$(run_aria "$T/many.list")
echo "(b) $MANY x 16 B snapshot: apctl pull ${A} s, aria2c -j8 ${R} s, ratio $(ratio "$A" "$R")"
if python3 -c 'import huggingface_hub' 2>/dev/null; then
    H=$(for r in $(seq "$RUNS"); do rm -rf "$T/hfh"; secs python3 -c '
import sys; from huggingface_hub import snapshot_download
snapshot_download("org/many", local_dir=sys.argv[1], max_workers=8)' "$T/hfh"; done | median)
    echo "(b) $MANY x 16 B snapshot: huggingface_hub snapshot_download ${H} s, apctl/hf ratio $(ratio "$A" "$H")"
else
    echo "(b) huggingface_hub is not installed: snapshot_download not measured" \
         "(bench/manyfiles.sh measures Hugging Face's JavaScript client instead)"
fi
}
