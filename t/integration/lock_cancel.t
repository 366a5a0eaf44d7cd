#!/bin/sh
# A pull waiting for another process's download of the same artifact stays
# cancellable (Ctrl-C → 130 at once), keeps its heartbeat, and the first
# process finishes unharmed.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 5
gen_bytes 3000000 21 > "$TMP/w.bin"
W=$(sha256 "$TMP/w.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {"w.bin": {"generate": {"size": 3000000, "seed": 21}, "faults": {"throttle_bps": 500000}}}}
JSON
start_hub "$TMP/cfg.json"
REF="$FILES/files/w.bin#sha256=$W"
"$APCTL" pull --json --events --connections 1 "$REF" > "$TMP/a.json" 2> "$TMP/a.err" &
A=$!
i=0   # wait until A holds the entry lock and bytes flow (the server logs a
      # request only when it ends, so watch A's own progress events)
while ! grep -q '"event":"progress".*"bytes_done":[1-9]' "$TMP/a.err" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 250 ] && break; sleep 0.02
done
"$APCTL" pull --events --heartbeat 100 "$REF" > /dev/null 2> "$TMP/b.ev" &
B=$!
i=0
while ! grep -q '"event":"log"' "$TMP/b.ev" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 250 ] && break; sleep 0.02
done
beats() { [ "$(grep -c '"event":"heartbeat"' "$TMP/b.ev")" -ge 2 ]; }
i=0   # heartbeats every 100 ms: two of them, polled (bounded) while A runs
while ! beats && pid_running $A; do
    i=$((i + 1)); [ $i -gt 500 ] && break; sleep 0.02
done
check "the waiting pull keeps its heartbeat" beats
t0=$(date +%s%N)
kill -INT $B
wait $B
rc=$?
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
# the download B waits for is throttled to ~6 s: A still running when B is
# gone says B did not wait for it (no wall-clock bound asserted)
a_running=0; pid_running $A && a_running=1
check "Ctrl-C while waiting for the lock exits 130" [ $rc -eq 130 ]
[ $rc -eq 130 ] || diag "rc=$rc" "$(tail -n 5 "$TMP/b.ev")"
check "... without waiting for the other download (took $ms ms; the download was still running)" [ $a_running -eq 1 ]
wait $A
check "the first pull still succeeds" [ $? -eq 0 ]
p=$(json_get "$TMP/a.json" 'j["files"][0]["path"]')
check "... with the right bytes" sh -c "[ \"\$(sha256sum '$p' | cut -d' ' -f1)\" = $W ]"
done_testing
