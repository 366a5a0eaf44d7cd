#!/bin/sh
# Origin unreachable + a ready entry: the entry is returned with a warning
# that says the origin could not be reached and the entry may be stale;
# --refresh (AP_PROVISION_REFRESH) demands a fresh check and fails instead.
# Not found / private are answers about the artifact, not an unreachable
# origin: they never fall back.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 19
C1=1111111111111111111111111111111111111111
# config API_FAULTS PRIVATE: the hub's config (temp file + rename)
config() {
    cat > "$TMP/cfg.tmp" <<JSON
{"repos": {
  "org/m": {"private": $2, "api_faults": $1, "refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"content": "{\"a\": 1}"},
     "w.bin": {"generate": {"size": 100000, "seed": 1}, "lfs": true}}}}}}}
JSON
    mv "$TMP/cfg.tmp" "$TMP/cfg.json"
}
config '{}' false
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
printf '{"a": 1}' > "$TMP/config.want"

"$APCTL" pull --quiet hf:org/m/config.json 2> "$TMP/err" && "$APCTL" pull --quiet hf:org/m 2>> "$TMP/err"
check "a file and a snapshot pulled" [ $? -eq 0 ]

# --- connection refused: nothing listens on the endpoint any more ---
DEAD=http://127.0.0.1:1
HF_ENDPOINT=$DEAD "$APCTL" pull hf:org/m/config.json > "$TMP/out" 2> "$TMP/err"
check "origin unreachable: the ready file entry is returned (exit 0)" [ $? -eq 0 ]
diag "$(cat "$TMP/err")"
check "... at its path, with its bytes" cmp -s "$(tail -n 1 "$TMP/out")" "$TMP/config.want"
check "... with a warning: origin unreachable, may be stale" \
    sh -c "grep -q 'hf:org/m/config.json: the origin could not be reached' '$TMP/err' && grep -q 'may be stale' '$TMP/err'"
check "... printed as a warning (the log event's own level)" \
    grep -q '^warning: hf:org/m/config.json: the origin could not be reached' "$TMP/err"
HF_ENDPOINT=$DEAD "$APCTL" pull --events hf:org/m/config.json > /dev/null 2> "$TMP/err"
check "--events: the log event carries \"level\": \"warn\"" python3 -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
logs = [e for e in evs if e["event"] == "log" and "could not be reached" in (e.get("message") or "")]
assert logs and all(e["level"] == "warn" for e in logs), evs
assert all(e["level"] == "debug" for e in evs if e["event"] == "progress"), evs' "$TMP/err"
HF_ENDPOINT=$DEAD "$APCTL" pull --quiet hf:org/m > /dev/null 2>&1
check "... the same for the snapshot" [ $? -eq 0 ]
HF_ENDPOINT=$DEAD "$APCTL" pull --refresh hf:org/m/config.json > /dev/null 2> "$TMP/err"
check "--refresh: fails instead (exit 4: the origin is unreachable)" [ $? -eq 4 ]
check "... naming the reference and the cause" \
    sh -c "grep -q 'hf:org/m/config.json' '$TMP/err' && grep -q 'fresh check' '$TMP/err'"
diag "$(cat "$TMP/err")"
HF_ENDPOINT=$DEAD "$APCTL" pull hf:org/never/w.bin > /dev/null 2> "$TMP/err"
check "a reference never pulled still fails when the origin is unreachable (exit 4)" [ $? -eq 4 ]
HF_ENDPOINT=$DEAD "$APCTL" pull hf:org/m/w.bin > "$TMP/out" 2> "$TMP/err"
check "a file of the ready snapshot entry is served from it when the origin is unreachable" \
    sh -c "[ $? -eq 0 ] && grep -q 'hf:org/m/w.bin: the origin could not be reached' '$TMP/err'"

# --- the hub answers 503 on its API (the snapshot's resolve), every time ---
config '{"status": 503}' false
"$APCTL" pull hf:org/m > "$TMP/out" 2> "$TMP/err"
check "server errors (503 after retries): the ready snapshot is returned" [ $? -eq 0 ]
check "... with the warning" grep -q 'hf:org/m: the origin could not be reached.*503' "$TMP/err"
diag "$(cat "$TMP/err")"
"$APCTL" pull --quiet --refresh hf:org/m > /dev/null 2> "$TMP/err"
check "... --refresh fails (exit 4)" [ $? -eq 4 ]

# --- private now (401/404 RepoNotFound): not unreachable, no fallback ---
config '{}' true
"$APCTL" pull hf:org/m/config.json > /dev/null 2> "$TMP/err"
check "a repository that became private is not served from the catalog (exit 3)" [ $? -eq 3 ]
check "... the error says not found, not unreachable" \
    sh -c "grep -q 'not found' '$TMP/err' && ! grep -q 'could not be reached' '$TMP/err'"
diag "$(cat "$TMP/err")"
# --- deleted (404) ---
cat > "$TMP/cfg.tmp" <<JSON
{"repos": {"org/other": {"files": {"x": {"content": "x"}}}}}
JSON
mv "$TMP/cfg.tmp" "$TMP/cfg.json"
HF_TOKEN= "$APCTL" pull hf:org/m/config.json > /dev/null 2> "$TMP/err"
check "a deleted repository is not served from the catalog (exit 3)" [ $? -eq 3 ]
check "... the error says not found" grep -q 'not found' "$TMP/err"
"$APCTL" path hf:org/m/config.json > /dev/null 2>&1
check "the entry itself stays ready all along" [ $? -eq 0 ]
done_testing
