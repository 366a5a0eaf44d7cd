#!/bin/sh
# apctl's exit statuses, one class each (apctl --help, man apctl "EXIT
# STATUS"): 2 usage, 3 not found / refused, 4 network or server trouble
# (worth a retry), 5 integrity, 130 cancelled; 0 on success.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 14
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/m": {"files": {
  "ok.bin": {"generate": {"size": 20000, "seed": 1}, "lfs": true},
  "bad.bin": {"generate": {"size": 20000, "seed": 2}, "lfs": true, "faults": {"corrupt_at": 100}},
  "busy.bin": {"generate": {"size": 20000, "seed": 3}, "lfs": true, "faults": {"status": 503}},
  "slow.bin": {"generate": {"size": 2000000, "seed": 4}, "lfs": true, "faults": {"throttle_bps": 200000}},
  "mute.bin": {"generate": {"size": 500000, "seed": 5}, "lfs": true, "faults": {"stall_at": 0, "stall_secs": 20}}
 }}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
st() { "$APCTL" "$@" > "$TMP/out" 2> "$TMP/err"; echo $?; }

check "success: 0" [ "$(st pull hf:org/m/ok.bin)" -eq 0 ]
check "usage (unknown option): 2" [ "$(st pull --frobnicate hf:org/m/ok.bin)" -eq 2 ]
check "usage (malformed reference): 2" [ "$(st pull 'not a reference')" -eq 2 ]
check "not found (404 repository): 3" [ "$(st pull hf:org/nothere/x.bin)" -eq 3 ]
check "not found (no such entry): 3" [ "$(st show hf:org/nothere)" -eq 3 ]
check "server trouble (503 always): 4" [ "$(st pull --max-attempts 2 hf:org/m/busy.bin)" -eq 4 ]
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
rc=$(HF_ENDPOINT="http://127.0.0.1:$port" st pull --max-attempts 1 hf:org/m/ok.bin@main)
check "network trouble (connection refused): 4" [ "$rc" -eq 4 ]
[ "$rc" -eq 4 ] || diag "$rc: $(cat "$TMP/err")"
check "integrity (wrong digest): 5" [ "$(st pull hf:org/m/bad.bin)" -eq 5 ]
blob=$(find "$AP_HOME/blobs/sha256" -type f | head -n 1)
chmod u+w "$blob" && printf 'X' | dd of="$blob" bs=1 seek=10 conv=notrunc 2>/dev/null
check "integrity (verify finds a corrupt blob): 5" [ "$(st verify)" -eq 5 ]

# cancel: SIGINT once bytes flow
"$APCTL" pull --events hf:org/m/slow.bin > /dev/null 2> "$TMP/ev" &
pid=$!
i=0
while ! grep -q '"event":"progress".*"bytes_done":[1-9]' "$TMP/ev" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 1000 ] && break; sleep 0.02
done
kill -INT $pid
wait $pid
check "cancelled (SIGINT): 130" [ $? -eq 130 ]
# the same through the job registry (several references)
"$APCTL" pull --events hf:org/m/slow.bin hf:org/m/ok.bin > /dev/null 2> "$TMP/ev2" &
pid=$!
i=0
while ! grep -q '"event":"progress".*"bytes_done":[1-9]' "$TMP/ev2" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 1000 ] && break; sleep 0.02
done
kill -INT $pid
wait $pid
check "cancelled (SIGINT, several references): 130" [ $? -eq 130 ]
check "... their --events lines carry each job's id" sh -c \
    "grep -q '\"job\":1,' '$TMP/ev2' && grep -q '\"job\":2,' '$TMP/ev2'"
# cancelled before a byte arrived: nothing to resume, no staging file left
AP_HOME="$TMP/h0" "$APCTL" pull --events --stall-timeout 60000 hf:org/m/mute.bin > /dev/null 2> "$TMP/ev3" &
pid=$!
i=0
while [ -z "$(find "$TMP/h0/staging" -name '*.part' 2>/dev/null)" ]; do # the request is out
    i=$((i + 1)); [ $i -gt 1000 ] && break; sleep 0.02
done
kill -INT $pid
wait $pid
check "cancelled while the server sends nothing: 130" [ $? -eq 130 ]
check "... and no staging file holding nothing is left behind" \
    sh -c "[ -z \"\$(find '$TMP/h0/staging' -type f 2>/dev/null)\" ]"
find "$TMP/h0/staging" -type f -printf '# %s %p\n' 2>/dev/null
done_testing
