#!/bin/sh
# A failed, cancelled or killed re-pull never demotes a ready entry: after
# Ctrl-C or kill -9 during `apctl pull --force`, a re-pull whose file now
# fails (404, wrong bytes) and a moved main whose new file fails, `apctl
# path` still answers with the old bytes, the entry stays ready with its old
# revision, the views still point at the old blobs, and verify is clean.
# Mid-transfer is reached deterministically: the file stalls at a byte
# offset (stall_at) and the test waits for the pull's own progress events.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 21
C1=1111111111111111111111111111111111111111
C2=2222222222222222222222222222222222222222
SZ=3000000
gen_bytes $SZ 1 > "$TMP/w.bin"
gen_bytes 200000 2 > "$TMP/s1.bin"
# config W_FAULTS S_MAIN S_FAULTS: write the hub's config (temp + rename)
config() {
    cat > "$TMP/cfg.tmp" <<JSON
{"repos": {
  "org/m": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "w.bin": {"generate": {"size": $SZ, "seed": 1}, "lfs": true, "faults": $1}}}}},
  "org/s": {"refs": {"main": "$2"}, "commits": {
     "$C1": {"files": {"a.txt": {"content": "one"},
                       "s.bin": {"generate": {"size": 200000, "seed": 2}, "lfs": true}}},
     "$C2": {"files": {"a.txt": {"content": "two"},
                       "s.bin": {"generate": {"size": 200000, "seed": 3}, "lfs": true,
                                 "faults": $3}}}}}}}
JSON
    mv "$TMP/cfg.tmp" "$TMP/cfg.json"
}
config '{}' $C1 '{}'
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
R=hf:org/m/w.bin

"$APCTL" pull --quiet $R 2> "$TMP/err"
check "first pull is ready" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
VIEW="$AP_HOME/models/huggingface/org/m/w.bin"
still_good() {   # still_good LABEL: path answers, old bytes, ready, view, verify
    p=$("$APCTL" path $R 2> "$TMP/path.err")
    check "$1: apctl path still answers" [ -n "$p" ]
    [ -s "$TMP/path.err" ] && diag "$(cat "$TMP/path.err")"
    check "$1: ... with the old bytes, the entry ready" sh -c "cmp -s '$p' '$TMP/w.bin' &&
        \"$APCTL\" show --json $R | grep -q '\"status\": *\"ready\"'"
    check "$1: ... the view still points at them, verify clean" sh -c "cmp -s '$VIEW' '$TMP/w.bin' &&
        \"$APCTL\" verify > /dev/null"
}
# wait_progress FILE: until the pull has reported bytes of this transfer
wait_progress() {
    i=0
    while ! grep -q '"event":"progress".*"bytes_done":[1-9]' "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 500 ] && break; sleep 0.02
    done
}

# --- Ctrl-C during --force: the file stalls at 1 MB for 30 s ---
config '{"stall_at": 1000000, "stall_secs": 30}' $C1 '{}'
"$APCTL" pull --force --events $R > /dev/null 2> "$TMP/int.ev" &
P=$!
wait_progress "$TMP/int.ev"
kill -INT $P
wait $P
check "Ctrl-C during a --force re-pull exits 130" [ $? -eq 130 ]
still_good "after Ctrl-C"

# --- kill -9 during --force ---
"$APCTL" pull --force --events $R > /dev/null 2> "$TMP/kill.ev" &
P=$!
wait_progress "$TMP/kill.ev"
kill -9 $P
wait $P 2>/dev/null
still_good "after kill -9"

# --- the file now answers 404 ---
config '{"status": 404}' $C1 '{}'
"$APCTL" pull --force $R > /dev/null 2> "$TMP/404.err"
check "a --force re-pull whose file now 404s fails (exit 3)" [ $? -eq 3 ]
check "... naming the artifact and the cause" grep -q "$R.*404" "$TMP/404.err"
diag "$(cat "$TMP/404.err")"
still_good "after a 404"

# --- wrong bytes (digest error) ---
config '{"corrupt_at": 2500000}' $C1 '{}'
"$APCTL" pull --force --max-attempts 1 $R > "$TMP/dig.out" 2> "$TMP/dig.err"
check "a --force re-pull that gets wrong bytes fails (exit 5)" [ $? -eq 5 ]
diag "$(cat "$TMP/dig.err")"
still_good "after wrong bytes"

# --- a snapshot whose main moves to a commit with a failing file ---
"$APCTL" pull --quiet hf:org/s 2> "$TMP/err"
check "snapshot pulled at C1" [ $? -eq 0 ]
config '{}' $C2 '{"status": 404}'
"$APCTL" pull hf:org/s > /dev/null 2> "$TMP/moved.err"
check "pull after main moved to a commit with a 404 file fails (exit 3)" [ $? -eq 3 ]
check "... the snapshot is still ready at the old commit" sh -c \
    "\"$APCTL\" show --json hf:org/s > '$TMP/s.json' && grep -q '\"status\": *\"ready\"' '$TMP/s.json' && grep -q '\"revision\": *\"$C1\"' '$TMP/s.json'"
check "... its files and views are the old ones" sh -c \
    "cmp -s \"\$(\"$APCTL\" path hf:org/s s.bin)\" '$TMP/s1.bin' &&
     [ \"\$(cat '$AP_HOME/models/huggingface/org/s/a.txt')\" = one ] &&
     cmp -s '$AP_HOME/models/huggingface/org/s/s.bin' '$TMP/s1.bin'"
done_testing
