#!/bin/sh
# HF_ENDPOINT: a mirror that is not a Hugging Face hub (the fake plain file
# server) is recognised and refused with a clear message, for single files,
# snapshots and quant tags; a trailing slash is accepted; an unreachable
# endpoint fails naming the reference.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 11
C1=fafafafafafafafafafafafafafafafafafafafa


cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/m": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"content": "{}"},
     "w.Q4_K_M.gguf": {"generate": {"size": 50000, "seed": 5}, "lfs": true}
  }}}}},
 "files": {
           "blob.bin": {"generate": {"size": 1000, "seed": 3}}}}
JSON
start_hub "$TMP/cfg.json"

# --- HF_ENDPOINT pointing at the plain file server ---
for ref in hf:org/m/config.json hf:org/m hf:org/m:Q4_K_M; do
    HF_ENDPOINT="$FILES" "$APCTL" pull "$ref" > /dev/null 2> "$TMP/err"
    rc=$?
    check "$ref against a non-hub endpoint fails" [ $rc -ne 0 ]
    check "$ref: one line naming the ref: not a Hugging Face endpoint" sh -c \
        "[ \$(wc -l < '$TMP/err') -eq 1 ] && grep -q '$ref' '$TMP/err' && grep -q 'not a Hugging Face endpoint' '$TMP/err'"
    diag "$(cat "$TMP/err")"
done
check "the files server was asked (and the hub never)" sh -c \
    "[ $(count_log 'r["server"]=="files"') -gt 0 ] && [ $(count_log 'r["server"]=="hub"') -eq 0 ]"
check "nothing became ready in the catalog" sh -c \
    "! grep -rl '\"ready\"' '$AP_HOME/catalog' 2>/dev/null | grep -q ."

# --- trailing slash on a real endpoint ---
HF_ENDPOINT="$HUB/" "$APCTL" pull --json hf:org/m/config.json > "$TMP/o.json" 2> "$TMP/err"
rc=$?
check "HF_ENDPOINT with a trailing slash works" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "no double slash in the hub URLs" [ "$(count_log 'r["server"]=="hub" and r["path"].startswith("//")')" -eq 0 ]

# --- an endpoint nobody listens on (--refresh: the ready entry pulled above
# would otherwise be served with a warning, see offline_fallback.t) ---
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
HF_ENDPOINT="http://127.0.0.1:$port" "$APCTL" pull --refresh hf:org/m/config.json > /dev/null 2> "$TMP/err"
rc=$?
check "unreachable endpoint fails naming the reference" sh -c \
    "[ $rc -ne 0 ] && [ $rc -ne 130 ] && grep -q 'hf:org/m/config.json' '$TMP/err'"
diag "$(cat "$TMP/err")"
done_testing
