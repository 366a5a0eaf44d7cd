#!/bin/sh
# A tree listing of 100,000 files (100 pages of 1,000) is read with bounded
# memory and CPU: the pull of one file picked from it by --include, and of
# the one file left by --exclude.  The bounds are resource limits, not
# timings.  Measured: 1.2 s of CPU and 79 MB of peak RSS per pull; before
# the O(n log n) listing (the parent of commit 8c8f39d: a linear scan per
# added file) the same pull needed 75 s of CPU.  The CPU limit (ulimit -t
# 20) leaves room for sanitizer builds and trips only when the quadratic
# behaviour returns; the memory bound is checked on the peak RSS
# reported by GNU time (not with RLIMIT_AS, which sanitizers cannot run
# under).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 7
N=100000
C1=1111111111111111111111111111111111111111
python3 - "$TMP/cfg.json" "$N" <<PY
import json, sys
n = int(sys.argv[2])
files = {f"d{i // 1000:03d}/f{i:06d}.bin": {"content": str(i)} for i in range(n)}
files["config.json"] = {"content": "{\"model_type\": \"llama\"}"}
json.dump({"repos": {"org/huge": {"refs": {"main": "$C1"},
                                  "commits": {"$C1": {"files": files}}}}},
          open(sys.argv[1], "w"))
PY
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
# Sanitizer builds need several times the memory of a plain one.
if [ -n "${SANITIZE:-}" ]; then MAXKB=1500000; else MAXKB=300000; fi
rss() { sed -n 's/^maxrss=//p' "$1"; }
cpu() { sed -n 's/^cpu=//p' "$1"; }

( ulimit -t 20; /usr/bin/time -f 'maxrss=%M\ncpu=%U s user, %S s system' -o "$TMP/t1" \
    "$APCTL" pull --quiet --max-files 1 --include 'd042/f042424.bin' hf:org/huge \
    > "$TMP/out" 2> "$TMP/err" )
check "pull of one file from a 100,000-file listing succeeds" [ $? -eq 0 ]
diag "$(cat "$TMP/err")"
check "... the file has its bytes" sh -c "[ \"\$(cat \"\$(\"$APCTL\" path hf:org/huge d042/f042424.bin)\")\" = 42424 ]"
diag "CPU: $(cpu "$TMP/t1")"
check "... peak RSS under $MAXKB KiB (was $(rss "$TMP/t1") KiB)" \
    [ "$(rss "$TMP/t1")" -lt "$MAXKB" ]

( ulimit -t 20; /usr/bin/time -f 'maxrss=%M\ncpu=%U s user, %S s system' -o "$TMP/t2" \
    "$APCTL" pull --quiet --exclude 'd*/*.bin' hf:org/huge > "$TMP/out" 2> "$TMP/err" )
check "pull with --exclude leaving one file of the 100,001" [ $? -eq 0 ]
diag "$(cat "$TMP/err")"
diag "CPU: $(cpu "$TMP/t2")"
check "... peak RSS under $MAXKB KiB (was $(rss "$TMP/t2") KiB)" \
    [ "$(rss "$TMP/t2")" -lt "$MAXKB" ]
"$APCTL" show --json hf:org/huge > "$TMP/show.json" 2> "$TMP/err"
check "... the entry has config.json, present, with its bytes" \
    sh -c "jq -e '[.files[] | select(.name == \"config.json\" and .present)] | length == 1' '$TMP/show.json' >/dev/null && grep -q llama \"\$(\"$APCTL\" path hf:org/huge config.json)\""
"$APCTL" verify > /dev/null 2>&1
check "verify is clean" [ $? -eq 0 ]
done_testing
