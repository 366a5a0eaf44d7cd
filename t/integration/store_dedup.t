#!/bin/sh
# Cross-vendor dedup in the content-addressed store (docs/store.md):
# the same bytes reached through a plain URL and through an HF LFS file are
# fetched once and stored once; rm keeps a blob while another entry uses it
# and removes it with the last one; path prints the right bytes.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 34
gen_bytes 2000000 21 > "$TMP/a.bin"
gen_bytes 1500000 22 > "$TMP/b.bin"
A=$(sha256 "$TMP/a.bin")
B=$(sha256 "$TMP/b.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "a.bin": {"generate": {"size": 2000000, "seed": 21}},
  "b.bin": {"generate": {"size": 1500000, "seed": 22}}
 },
 "repos": {"org/dup": {"files": {
  "a.bin": {"generate": {"size": 2000000, "seed": 21}, "lfs": true},
  "b.bin": {"generate": {"size": 1500000, "seed": 22}, "lfs": true}
 }}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
UA="$FILES/files/a.bin#sha256=$A"
UB="$FILES/files/b.bin#sha256=$B"
HA=hf:org/dup/a.bin
HB=hf:org/dup/b.bin

# body_gets PATTERN: "COUNT BYTES" of the GETs to the files server or the CDN
# whose path contains PATTERN (the file name, or the sha256 for the CDN).
body_gets() {
    python3 -c '
import json, sys
n = b = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("method") == "GET" and r.get("server") in ("files", "cdn") \
            and sys.argv[2] in r.get("path", ""):
        n += 1
        b += r.get("bytes", 0)
print(n, b)' "$FH_LOG" "$1"
}
gets_for() { echo "$(body_gets "$1") $(body_gets "$2")"; }
# same_bytes FILE WANT_HEX
same_bytes() { [ -f "$1" ] && [ "$(sha256 "$1")" = "$2" ]; }
nblobs() { find "$AP_HOME/blobs/sha256" -type f 2>/dev/null | wc -l; }
blob() { echo "$AP_HOME/blobs/sha256/$(echo "$1" | cut -c1-2)/$1"; }
pull() { "$APCTL" pull --json "$@" 2> "$TMP/err"; _rc=$?; [ -s "$TMP/err" ] && diag "$(cat "$TMP/err")" >&2; return $_rc; }

# --- A: URL first, then the same bytes through huggingface --------------
pull "$UA" > "$TMP/ua.json"
check "url pull of a.bin exits 0" [ $? -eq 0 ]
check "  ... fetched_bytes = size" [ "$(json_get "$TMP/ua.json" 'j["fetched_bytes"]')" = 2000000 ]
check "  ... bytes at the reported path are right" \
    same_bytes "$(json_get "$TMP/ua.json" 'j["files"][0]["path"]')" "$A"
before=$(gets_for a.bin "$A")
pull "$HA" > "$TMP/ha.json"
check "hf pull of the same bytes exits 0" [ $? -eq 0 ]
check "  ... status ready" [ "$(json_get "$TMP/ha.json" 'j["status"]')" = ready ]
check "  ... fetched_bytes = 0 (cross-vendor dedup)" \
    [ "$(json_get "$TMP/ha.json" 'j["fetched_bytes"]')" = 0 ]
after=$(gets_for a.bin "$A")
check "  ... no new GET of the body on the files server or the CDN" [ "$before" = "$after" ]
[ "$before" = "$after" ] || diag "GETs (files count bytes, cdn count bytes): before $before, after $after"
check "  ... bytes at the reported path are right" \
    same_bytes "$(json_get "$TMP/ha.json" 'j["files"][0]["path"]')" "$A"
check "  ... the entry records the real size (files[0].size, total_size)" \
    [ "$(json_get "$TMP/ha.json" '(j["files"][0]["size"], j["total_size"])')" = "(2000000, 2000000)" ]

# --- B: huggingface first, then the same bytes by URL --------------------
pull "$HB" > "$TMP/hb.json"
check "hf pull of b.bin exits 0" [ $? -eq 0 ]
check "  ... fetched_bytes = size" [ "$(json_get "$TMP/hb.json" 'j["fetched_bytes"]')" = 1500000 ]
before=$(gets_for b.bin "$B")
pull "$UB" > "$TMP/ub.json"
check "url pull of the same bytes exits 0" [ $? -eq 0 ]
check "  ... fetched_bytes = 0 (cross-vendor dedup)" \
    [ "$(json_get "$TMP/ub.json" 'j["fetched_bytes"]')" = 0 ]
after=$(gets_for b.bin "$B")
check "  ... no new GET of the body on the files server or the CDN" [ "$before" = "$after" ]
[ "$before" = "$after" ] || diag "GETs (files count bytes, cdn count bytes): before $before, after $after"
got=$(json_get "$TMP/ub.json" '(j["files"][0]["size"], j["total_size"])')
check "  ... the entry records the real size (files[0].size, total_size)" [ "$got" = "(1500000, 1500000)" ]
[ "$got" = "(1500000, 1500000)" ] || diag "url entry deduped from a present blob: (files[0].size, total_size) = $got, want (1500000, 1500000)"
check "  ... bytes at the reported path are right" \
    same_bytes "$(json_get "$TMP/ub.json" 'j["files"][0]["path"]')" "$B"

# --- the catalog and the store ----------------------------------------------
"$APCTL" ls --json > "$TMP/ls.json" 2> "$TMP/err"
check "ls --json exits 0" [ $? -eq 0 ]
check "ls --json lists the four entries by ref" python3 -c '
import json, sys
refs = sorted(e["ref"] for e in json.load(open(sys.argv[1])))
sys.exit(0 if refs == sorted(sys.argv[2:]) else 1)' "$TMP/ls.json" "$UA" "$UB" "$HA" "$HB"
check "two blobs in blobs/sha256 (one per content)" [ "$(nblobs)" -eq 2 ]
check "  ... named by their sha256, with the right bytes" sh -c \
    "[ \"\$(sha256sum '$(blob "$A")' | cut -d' ' -f1)\" = $A ] && \
     [ \"\$(sha256sum '$(blob "$B")' | cut -d' ' -f1)\" = $B ]"
for r in "url-a $UA $A" "hf-a $HA $A" "hf-b $HB $B" "url-b $UB $B"; do
    set -- $r
    p=$("$APCTL" path "$2" 2> "$TMP/err")
    check "path REF ($1) prints a path with the right bytes" same_bytes "$p" "$3"
done

python3 "$AP_SRC/t/helpers/store_check.py" "$AP_HOME" > "$TMP/sc" 2>&1
check "store invariants hold (store_check.py)" [ $? -eq 0 ]
cat "$TMP/sc"

# --- rm: the blob lives while some entry references it ---------------------
id_ha=$(json_get "$TMP/ha.json" 'j["id"]')
"$APCTL" rm "$UA" > /dev/null 2> "$TMP/err"
check "rm of the url entry (by ref) exits 0" [ $? -eq 0 ]
check "  ... the blob stays (the hf entry still references it)" same_bytes "$(blob "$A")" "$A"
p=$("$APCTL" path "$HA" 2> /dev/null)
check "  ... the hf entry still gives the right bytes" same_bytes "$p" "$A"
check "  ... ls no longer lists the url entry" sh -c \
    "'$APCTL' ls --json | python3 -c 'import json,sys; sys.exit(0 if sorted(e[\"ref\"] for e in json.load(sys.stdin)) == sorted(sys.argv[1:]) else 1)' '$UB' '$HA' '$HB'"
"$APCTL" rm "$id_ha" > /dev/null 2> "$TMP/err"
check "rm of the hf entry (by id) exits 0" [ $? -eq 0 ]
check "  ... the blob, now unreferenced, is removed" [ ! -e "$(blob "$A")" ]
check "  ... the other blob stays" same_bytes "$(blob "$B")" "$B"
check "  ... no view of a.bin is left under models/" sh -c \
    "[ -z \"\$(find '$AP_HOME/models' -name a.bin 2>/dev/null)\" ]"
"$APCTL" path "$HA" > /dev/null 2>&1
check "  ... path of the removed entry fails" [ $? -ne 0 ]
done_testing
