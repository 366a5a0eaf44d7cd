#!/bin/sh
# Resume keyed by content: a pull killed (-9) at half on URL A resumes on URL
# B of the same content (same #sha256=, another host name, another ETag):
# B serves only the remainder, and the assembled bytes verify.  The staging
# file is named by the digest (docs/fleet.md), never by the URL.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 6
SZ=4000000
HALF=2000000
gen_bytes $SZ 5 > "$TMP/w.bin"
H=$(sha256 "$TMP/w.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "a.bin": {"generate": {"size": $SZ, "seed": 5},
            "faults": {"stall_at": $HALF, "stall_secs": 30}},
  "b.bin": {"generate": {"size": $SZ, "seed": 5}, "etag": "\"another-etag\""}}}
JSON
start_hub "$TMP/cfg.json"

# one connection: everything before the stall is one contiguous prefix
"$APCTL" pull --events --connections 1 --chunk-size 1000000 \
    "$FILES/files/a.bin#sha256=$H" > /dev/null 2> "$TMP/a.ev" &
P=$!
# wait until the sidecar says the first half is on disk
i=0
while :; do
    st=$(ls "$AP_HOME"/staging/*.state 2>/dev/null | head -1)
    if [ -n "$st" ] && python3 - "$st" $HALF <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["done"]
sys.exit(0 if d and d[0][0] == 0 and d[0][1] >= int(sys.argv[2]) else 1)
PY
    then break; fi
    i=$((i + 1)); [ $i -gt 1000 ] && break; sleep 0.02
done
kill -9 $P
wait $P 2>/dev/null
RESUMED=$(python3 -c 'import json,sys; print(sum(e-s for s,e in json.load(open(sys.argv[1]))["done"]))' "$st")
check "killed at half on URL A, the sidecar holds the first half ($RESUMED bytes)" \
    [ "$RESUMED" -ge $HALF ]

# URL B: another path (another ETag), the same content
B="$(echo "$FILES" | sed 's/127\.0\.0\.1/localhost/')/files/b.bin"
"$APCTL" pull --quiet "$B#sha256=$H" > "$TMP/out" 2> "$TMP/err"
check "the pull on URL B succeeds" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
BSUM=$(python3 -c '
import json, sys
print(sum(r.get("bytes", 0) for r in map(json.loads, open(sys.argv[1]))
          if r["path"] == "/files/b.bin"))' "$FH_LOG")
check "the server of B served only the remainder ($BSUM of $SZ bytes)" \
    [ "$BSUM" -eq $((SZ - RESUMED)) ]
check "... in ranges, never from byte 0" \
    [ "$(count_log 'r["path"] == "/files/b.bin" and r["headers"].get("range", "").startswith("bytes=0-")')" -eq 0 ]
p=$("$APCTL" path "$B#sha256=$H")
check "the stored bytes are the file's" cmp -s "$p" "$TMP/w.bin"
check "nothing is left in staging/" sh -c "[ -z \"\$(ls '$AP_HOME/staging')\" ]"
done_testing
