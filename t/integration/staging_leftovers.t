#!/bin/sh
# Staging data nobody can resume never piles up (issue 11): staging data
# without a sidecar is started over by the next pull, so
#  - a pull killed (SIGKILL) before its first byte leaves a zero-byte
#    .part that `apctl gc` removes at once, whatever its age, even after a
#    rerun that failed before reaching the file;
#  - gc keeps resumable data (a sidecar) and a file whose staging lock a
#    pull holds;
#  - a batch that stops before a file ran (another file of the batch could
#    not be prepared) leaves none of the empty files it made.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 11
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/m": {"files": {
  "mute.bin": {"generate": {"size": 300000, "seed": 1}, "lfs": true, "faults": {"stall_at": 0, "stall_secs": 30}}
 }},
 "org/three": {"files": {
  "a.bin": {"generate": {"size": 30000, "seed": 2}, "lfs": true},
  "b.bin": {"generate": {"size": 30000, "seed": 3}, "lfs": true},
  "c.bin": {"generate": {"size": 30000, "seed": 4}, "lfs": true}
 }}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
parts() { find "$AP_HOME/staging" -name '*.part' "$@" 2>/dev/null; }
# staging/<sha256(key)>.part, key "sha256:<hex>" for a file of known digest
staging_of() { printf 'sha256:%s' "$1" | sha256sum | cut -d' ' -f1; }

# --- 1: SIGKILL before the first byte, a rerun failing at resolve, gc ------
"$APCTL" pull --quiet --stall-timeout 60000 hf:org/m/mute.bin > /dev/null 2>&1 &
pid=$!
i=0
while [ -z "$(parts)" ]; do # the request is out
    i=$((i + 1)); [ $i -gt 1000 ] && break; sleep 0.02
done
kill -KILL $pid
wait $pid 2>/dev/null
check "a pull killed before its first byte leaves a zero-byte .part" \
    sh -c "[ -n \"\$(find '$AP_HOME/staging' -name '*.part' -size 0)\" ]"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
HF_ENDPOINT="http://127.0.0.1:$port" "$APCTL" pull --quiet --max-attempts 1 \
    hf:org/m/mute.bin > /dev/null 2>&1
check "a rerun that cannot resolve fails (exit 4)" [ $? -eq 4 ]
"$APCTL" gc > "$TMP/gc" 2>&1
rc=$?
check "apctl gc succeeds" [ $rc -eq 0 ]
check "  ... and removes the leftover at once, not a day later" sh -c "[ -z \"\$(find '$AP_HOME/staging' -name '*.part')\" ]"
check "  ... saying so" grep -q 'staging' "$TMP/gc"
diag "$(cat "$TMP/gc")"

# --- 2: what gc keeps ---------------------------------------------------------
mkdir -p "$AP_HOME/staging"
R="$AP_HOME/staging/$(printf resumable | sha256sum | cut -d' ' -f1).part"
head -c 5000 /dev/zero > "$R"
echo '{}' > "$R.state"
H="$AP_HOME/staging/$(printf held | sha256sum | cut -d' ' -f1).part"
: > "$H"
N="$AP_HOME/staging/$(printf nosidecar | sha256sum | cut -d' ' -f1).part"
head -c 5000 /dev/zero > "$N"
mkdir -p "$AP_HOME/locks"
hl="$AP_HOME/locks/stage-$(basename "$H" .part).lock"
: > "$hl"
# a pull's staging lock, held by another process while gc runs
flock "$hl" sh -c "'$APCTL' gc > '$TMP/gc2' 2>&1"
check "gc keeps recent data that has a sidecar (a resume)" [ -f "$R" ]
check "  ... keeps a file whose staging lock is held (a pull writing it)" [ -f "$H" ]
check "  ... and removes data with no sidecar (nothing can resume it)" [ ! -e "$N" ]
diag "$(cat "$TMP/gc2")"
rm -f "$R" "$R.state" "$H"

# --- 3: a batch stopped before its files ran ------------------------------------
C=$(gen_bytes 30000 4 | sha256sum | cut -d' ' -f1)
mkdir -p "$AP_HOME/staging/$(staging_of "$C").part/x"
"$APCTL" pull --quiet hf:org/three > /dev/null 2> "$TMP/err3"
check "a snapshot whose staging path is a planted directory fails" [ $? -ne 0 ]
check "  ... naming the file" grep -q 'c.bin' "$TMP/err3"
check "  ... and leaves no empty staging file of the other files" sh -c \
    "[ -z \"\$(find '$AP_HOME/staging' -type f -name '*.part')\" ]"
diag "$(cat "$TMP/err3")"
find "$AP_HOME/staging" -printf '# %s %p\n' 2>/dev/null
done_testing
