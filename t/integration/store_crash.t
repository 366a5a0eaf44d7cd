#!/bin/sh
# kill -9 in the middle of a pull, eight times (docs/store.md: nothing
# half-written ever visible, resume after a crash): after every kill the
# store must hold only correct blobs, parseable catalog documents, no
# "ready" entry with missing or wrong files and no incomplete file under
# models/.  Then a normal pull completes (resuming), verify and gc run, and
# the store is still correct.
# The kills are deterministic: the fault build's apctl (build/fault/apctl)
# raises SIGKILL right after it wrote the resume sidecar for the 1st or 2nd
# time (AP_FAULT_KILL_AT=sidecar:N, lib/fault.h), so every run dies while
# downloading with resumable data on disk; a run that does not die there
# fails the test (docs/TESTING.md).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
N=8
plan $((N * 3 + 14))
SIZE=4000000
gen_bytes $SIZE 41 > "$TMP/k.bin"
K=$(sha256 "$TMP/k.bin")
# ~1 MB/s on one connection: the whole file takes ~4 s; a sidecar is
# written every 100 ms of progress, so the eight killed runs together take
# ~1.2 s and leave the file incomplete (a run that completes fails).
cat > "$TMP/cfg.json" <<JSON
{"files": {"k.bin": {"generate": {"size": $SIZE, "seed": 41}, "faults": {"throttle_bps": 1000000}}}}
JSON
start_hub "$TMP/cfg.json"
U="$FILES/files/k.bin#sha256=$K"
# One connection and 256 KiB chunks so that a killed run leaves whole
# chunks the next run can keep.
OPTS="--connections 1 --chunk-size 262144"
same_bytes() { [ -f "$1" ] && [ "$(sha256 "$1")" = "$2" ]; }
store_ok() {
    python3 "$AP_SRC/t/helpers/store_check.py" "$AP_HOME" --allow-sha "$K" > "$TMP/sc" 2>&1
    _r=$?
    cat "$TMP/sc"
    return $_r
}
staged() { find "$AP_HOME/staging" -type f -size +0 2>/dev/null | wc -l; }
files_bytes() { # body bytes the files server sent for k.bin so far
    python3 -c '
import json, sys
b = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("server") == "files" and r.get("method") == "GET" and "/files/k.bin" in r.get("path", ""):
        b += r.get("bytes", 0)
print(b)' "$FH_LOG"
}

i=1
while [ $i -le $N ]; do
    at="sidecar:$(( 1 + i % 2 ))"
    AP_FAULT_KILL_AT=$at "$AP_BUILD/fault/apctl" pull --json $OPTS "$U" > "$TMP/run$i.json" 2> "$TMP/run$i.err"
    rc=$?
    check "run $i: killed by SIGKILL at $at (status $rc)" \
        sh -c "[ $rc -eq 137 ] && grep -q 'ap-fault: SIGKILL at $at\$' '$TMP/run$i.err'"
    [ $rc -eq 137 ] || diag "$(cat "$TMP/run$i.err")"
    diag "run $i: $(staged) non-empty staging file(s)"
    check "after kill -9 #$i: store invariants hold" store_ok
    check "after kill -9 #$i: every catalog document parses as JSON" sh -c '
for f in "$1"/catalog/*.json; do [ ! -e "$f" ] || jq -e . "$f" > /dev/null || exit 1; done' - "$AP_HOME"
    i=$((i + 1))
done

# the entry the last killed pull left "downloading" is shown as interrupted
"$APCTL" ls > "$TMP/ls.txt" 2>&1
check "ls shows the killed pull's entry as interrupted, and how to resume" sh -c \
    "grep -q ' interrupted ' '$TMP/ls.txt' && grep -q 'resumes it' '$TMP/ls.txt'"

# --- a normal pull after the crashes ---------------------------------------
progressed=$(staged)
before=$(files_bytes)
timeout 30 "$APCTL" pull --json $OPTS "$U" > "$TMP/final.json" 2> "$TMP/final.err"
rc=$?
check "normal pull after the crashes exits 0" [ $rc -eq 0 ]
[ -s "$TMP/final.err" ] && diag "$(cat "$TMP/final.err")"
p=$(json_get "$TMP/final.json" 'j["files"][0]["path"]' 2> /dev/null)
check "  ... bytes at the reported path are right" same_bytes "$p" "$K"
fb=$(json_get "$TMP/final.json" 'j["fetched_bytes"]' 2> /dev/null)
diag "final pull: fetched_bytes=$fb, server sent $(( $(files_bytes) - before )) bytes;" \
     "$progressed non-empty staging file(s) before it"
check "  ... the killed runs left partial data ($progressed staging file(s))" [ "$progressed" -gt 0 ]
check "  ... resumed: fetched_bytes < size (partial data from killed runs reused)" \
    [ "${fb:-$SIZE}" -lt $SIZE ]
check "  ... the server sent less than the whole file again (resume with Range)" \
    [ $(( $(files_bytes) - before )) -lt $SIZE ]
check "  ... status ready, size recorded" \
    [ "$(json_get "$TMP/final.json" '(j["status"], j["files"][0]["size"])' 2> /dev/null)" = "('ready', $SIZE)" ]
check "store invariants hold after the final pull" store_ok
p2=$("$APCTL" path "$U" 2> /dev/null)
check "apctl path gives the right bytes" same_bytes "$p2" "$K"

timeout 30 "$APCTL" verify > "$TMP/verify" 2>&1
check "apctl verify exits 0" [ $? -eq 0 ]
diag "$(cat "$TMP/verify")"
timeout 30 "$APCTL" gc > "$TMP/gc" 2>&1
check "apctl gc exits 0" [ $? -eq 0 ]
diag "$(cat "$TMP/gc")"
check "store invariants hold after gc" store_ok
p2=$("$APCTL" path "$U" 2> /dev/null)
check "  ... the entry still gives the right bytes" same_bytes "$p2" "$K"
n=$(grep -c '"path":"/files/k.bin"' "$FH_LOG")
"$APCTL" pull "$U" > "$TMP/again" 2>&1
diag "staging after gc: $(find "$AP_HOME/staging" -type f 2>/dev/null | sed "s|$AP_HOME/||" | tr '\n' ' ')"
check "  ... and a later pull says already present, with no request" sh -c \
    "grep -q 'already present' '$TMP/again' && [ \$(grep -c '\"path\":\"/files/k.bin\"' '$FH_LOG') -eq $n ]"
done_testing
