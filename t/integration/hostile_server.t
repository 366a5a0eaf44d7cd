#!/bin/sh
# Hostile servers (issue 8), driven through apctl against the fake hub:
# sizes announced by a server never drive memory and fail on the free
# space first; an endless body stops at --max-size and leaves no staging
# data; a trickling server is a stall; a symlink or FIFO planted at the
# staging path is never followed nor blocks; huge response headers end in
# a clear error; credentials in a URL never reach a message or an event.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 19
gen_bytes 1500000 41 > "$TMP/p.bin"
P=$(sha256 "$TMP/p.bin")
gen_bytes 1500000 44 > "$TMP/q.bin"
Q=$(sha256 "$TMP/q.bin")   # another blob: a store hit would skip staging
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "hugetot.bin": {"generate": {"size": 1048576, "seed": 40}, "faults": {"fake_total": 1125899906842624}},
  "hugelen.bin": {"generate": {"size": 1048576, "seed": 40}, "faults": {"no_ranges": true, "fake_total": 1125899906842624}},
  "endless.bin": {"generate": {"size": 100000, "seed": 42}, "faults": {"endless": true}},
  "trickle.bin": {"generate": {"size": 5000, "seed": 43}, "faults": {"trickle": 0.2}},
  "planted.bin": {"generate": {"size": 1500000, "seed": 41}},
  "fifo.bin":    {"generate": {"size": 1500000, "seed": 44}}
}}
JSON
start_hub "$TMP/cfg.json"
# every pull is bounded: a regression shows as a failure, never a hang
pull() { timeout 120 "$APCTL" pull --chunk-size 262144 "$@"; }

# --- 1, 2: an announced size of 2^50 bytes --------------------------------
/usr/bin/time -v -o "$TMP/time" timeout 120 "$APCTL" pull --chunk-size 262144 \
    "$FILES/files/hugetot.bin" > /dev/null 2> "$TMP/err"
rc=$?
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time")
diag "Content-Range total 2^50: exit $rc, max RSS ${rss} KiB"
check "Content-Range total 2^50 fails" [ $rc -ne 0 ]
check "  ... on the free space, naming both numbers and the file" sh -c \
  "grep -q 'hugetot.bin' '$TMP/err' && grep -q '1125899906842624' '$TMP/err' && grep -q 'free space' '$TMP/err'"
check "  ... with bounded memory (max RSS < 100 MiB)" [ "${rss:-999999}" -lt 102400 ]
check "  ... and leaves no staging data" sh -c \
  "! find '$AP_HOME/staging' -name '*.part' 2>/dev/null | grep -q ."
/usr/bin/time -v -o "$TMP/time" timeout 120 "$APCTL" pull \
    "$FILES/files/hugelen.bin" > /dev/null 2> "$TMP/err"
rc=$?
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time")
diag "Content-Length 2^50: exit $rc, max RSS ${rss} KiB"
check "Content-Length 2^50 fails on the free space, naming both numbers" sh -c \
  "[ $rc -ne 0 ] && grep -q 'hugelen.bin' '$TMP/err' && grep -q '1125899906842624' '$TMP/err' && grep -q 'free space' '$TMP/err'"

# --- 3: an endless chunked body ---------------------------------------------
pull --max-size 4194304 "$FILES/files/endless.bin" > /dev/null 2> "$TMP/err"
rc=$?
check "an endless body fails at --max-size (exit 4: AP_ESIZE)" [ $rc -eq 4 ]
check "  ... saying so, with the cap" sh -c \
  "grep -q 'endless.bin' '$TMP/err' && grep -q 'unknown length exceeds 4194304' '$TMP/err'"
check "  ... and its staging data is freed at once" sh -c \
  "! find '$AP_HOME/staging' -name '*.part' 2>/dev/null | grep -q ."
diag "$(cat "$TMP/err")"

# --- 4: a server trickling a byte every 0.2 s ------------------------------
pull --min-rate 1000 --min-rate-window 500 --max-attempts 2 \
    "$FILES/files/trickle.bin" > /dev/null 2> "$TMP/err"
rc=$?
check "a trickling server is a stall, then a failure (exit 4)" [ $rc -eq 4 ]
check "  ... whose message says so" sh -c \
  "grep -q 'slower than 1000 bytes/s' '$TMP/err' && grep -q '2 attempts' '$TMP/err'"
diag "$(cat "$TMP/err")"

# --- 5: planted entries at the staging path ---------------------------------
# staging/<sha256(key)>.part, key = "sha256:<hex>" for a file whose digest
# is known, whatever its URL (docs/store.md)
staging_of() {
    printf 'sha256:%s' "$1" | sha256sum | cut -d' ' -f1
}
mkdir -p "$AP_HOME/staging"
echo precious > "$TMP/outside.txt"
S="$AP_HOME/staging/$(staging_of "$P" "$FILES/files/planted.bin").part"
ln -s "$TMP/outside.txt" "$S"
ln -s "$TMP/outside.txt" "$S.state.tmp"
pull "$FILES/files/planted.bin#sha256=$P" > /dev/null 2> "$TMP/err"
rc=$?
check "a symlink planted at the staging path: the pull succeeds" [ $rc -eq 0 ]
check "  ... the file outside AP_HOME is untouched" \
  sh -c "[ \"\$(cat '$TMP/outside.txt')\" = precious ]"
check "  ... and the link itself was replaced" sh -c "[ ! -L '$S' ]"
p=$(timeout 20 "$APCTL" path "$FILES/files/planted.bin#sha256=$P" 2>/dev/null)
check "  ... with the right bytes" sh -c "[ \"\$(sha256sum '$p' | cut -d' ' -f1)\" = $P ]"
S="$AP_HOME/staging/$(staging_of "$Q" "$FILES/files/fifo.bin").part"
mkfifo "$S"
mkfifo "$S.state"
pull "$FILES/files/fifo.bin#sha256=$Q" > /dev/null 2> "$TMP/err"
rc=$?
check "FIFOs planted at the staging path and sidecar never block the pull" \
  [ $rc -eq 0 ]
check "  ... and were replaced by regular files" sh -c "[ ! -p '$S' ] && [ ! -p '$S.state' ]"
rm -f "$S" "$S.state"

# --- 8: huge response headers (a server of our own) -------------------------
python3 - "$TMP/hh.port" > /dev/null 2>&1 <<'PY' &
import os, socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
def serve(c):
    try:
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(65536)
            if not d:
                return
            req += d
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
        line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
        for _ in range(5000):
            c.sendall(line)
        c.sendall(b"\r\nok")
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
HH_PID=$!
i=0; while [ ! -s "$TMP/hh.port" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
pull "http://127.0.0.1:$(cat "$TMP/hh.port")/many.bin" > /dev/null 2> "$TMP/err"
rc=$?
stop_pids "$HH_PID"
check "5 MB of response headers end in a clear error" sh -c \
  "[ $rc -eq 4 ] && grep -q 'response headers exceed' '$TMP/err'"
diag "$(cat "$TMP/err")"

# --- 9: credentials in an endpoint URL --------------------------------------
HF_ENDPOINT="http://user:s3cret@127.0.0.1:1" timeout 60 "$APCTL" pull --events \
    hf:org/none/x.txt > "$TMP/out" 2> "$TMP/err"
rc=$?
check "an unreachable endpoint with credentials fails" [ $rc -ne 0 ]
check "  ... and the password appears in no message or event" sh -c \
  "! grep -q s3cret '$TMP/err' '$TMP/out'"
diag "$(head -c 600 "$TMP/err")"
done_testing
