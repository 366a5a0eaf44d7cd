#!/bin/sh
# bench/catalog_read.sh — reading one catalog entry of many files:
# t/helpers/catalog_entry.py lays down a synthetic entry of
# BENCH_CATALOG_FILES files (default 100000), hf:org/many, byte for byte
# the document `apctl pull` writes for a Hugging Face snapshot of that
# many small files (BENCH_CATALOG_LAYOUT=old: indented as jansson wrote
# it before 0.5); the store is otherwise empty, no pull needed.  Then
# `apctl ls`, `apctl show` and `apctl show --json` of it run under GNU
# time (wall, user + system CPU, peak RSS), BENCH_RUNS runs each
# (default 3).  No assertion: numbers go to stdout, bench/RESULTS.md
# keeps them; t/scale/catalog_read_100k.t bounds the CPU seconds.
# SPDX-License-Identifier: MIT
set -eu
{
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${AP_BUILD:-$ROOT/build}
N=${BENCH_CATALOG_FILES:-100000}
RUNS=${BENCH_RUNS:-3}
LAYOUT=${BENCH_CATALOG_LAYOUT:-current}   # "old": as written before 0.5
TIME=/usr/bin/time
[ -x $TIME ] || { echo "bench: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
[ -x "$B/apctl" ] || { echo "bench: $B/apctl missing (make all)" >&2; exit 1; }
T=$(mktemp -d /tmp/ap-bench-catalog-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
AP_HOME=$T/home
export AP_HOME

DOC=$(python3 "$ROOT/t/helpers/catalog_entry.py" "$AP_HOME" "$N" "$LAYOUT")
echo "catalog read: one entry of $N files ($LAYOUT layout), document $(wc -c < "$DOC") bytes," \
     "load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each"
printf '%-28s %8s %8s %8s %10s\n' command wall_s user_s sys_s maxrss_kb
run() {
    label=$1
    shift
    i=0
    while [ $i -lt "$RUNS" ]; do
        $TIME -f '%e %U %S %M' -o "$T/time" "$B/apctl" "$@" > "$T/out" 2> "$T/err" ||
            { echo "bench: apctl $* failed: $(cat "$T/err")" >&2; exit 1; }
        read -r w u s m < "$T/time"
        printf '%-28s %8s %8s %8s %10s\n' "$label" "$w" "$u" "$s" "$m"
        i=$((i + 1))
    done
}
run "apctl ls" ls
run "apctl show hf:org/many" show hf:org/many
run "apctl show --json hf:org/many" show --json hf:org/many
}
