#!/bin/sh
# The canonical reference identifies an entry: hf:org/repo:Q8_0, :q8_0 and
# the file that tag picks are one entry (ap_entry.requested keeps what was
# typed), online and offline; a file inside a snapshot entry, and a QUANT
# pick among its files, resolve offline from that entry and are recorded in
# it (one entry for the repository and its files).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 24
C1=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
C2=b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2

G="$TMP/g"
mkdir -p "$G"
MK="$AP_SRC/t/fixtures/mkgguf.py"
python3 "$MK" "$G/a.Q8_0.gguf" --size 210000 --file-type 7 --seed q8
python3 "$MK" "$G/x.Q4_K_M.gguf" --size 200000 --file-type 15 --seed km
python3 "$MK" "$G/s.Q4_K_M.gguf" --size 120000 --file-type 15 --seed skm
python3 "$MK" "$G/s.Q8_0.gguf" --size 130000 --file-type 7 --seed sq8
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/q": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "README.md": {"content": "quants"},
     "a.Q8_0.gguf": {"source": "$G/a.Q8_0.gguf", "lfs": true},
     "x.Q4_K_M.gguf": {"source": "$G/x.Q4_K_M.gguf", "lfs": true}
  }}}},
  "org/s": {"refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
     "config.json": {"content": "{\"model_type\": \"snap\"}"},
     "s.Q4_K_M.gguf": {"source": "$G/s.Q4_K_M.gguf", "lfs": true},
     "s.Q8_0.gguf": {"source": "$G/s.Q8_0.gguf", "lfs": true}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
printf '{"model_type": "snap"}' > "$TMP/config.json"

jv() { json_get "$1" "$2" 2>/dev/null; }
path_of() { json_get "$1" "[x['path'] for x in j['files'] if x['name']=='$2'][0]" 2>/dev/null; }
mkdir -p "$TMP/empty-hf"
offline() { HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/empty-hf" "$APCTL" "$@"; }

# --- online: three spellings, one entry ---
"$APCTL" pull --json hf:org/q:Q8_0 > "$TMP/p1.json" 2> "$TMP/err"
check "pull hf:org/q:Q8_0 exits 0" [ $? -eq 0 ]
ID=$(jv "$TMP/p1.json" 'j["id"]')
check "  ... the entry is named by the file the tag picks" \
    [ "$(jv "$TMP/p1.json" 'j["ref"]')" = "hf:org/q/a.Q8_0.gguf" ]
check "  ... and keeps what was typed" [ "$(jv "$TMP/p1.json" 'j["requested"]')" = "hf:org/q:Q8_0" ]
check "  ... the bytes" cmp -s "$(path_of "$TMP/p1.json" a.Q8_0.gguf)" "$G/a.Q8_0.gguf"
"$APCTL" pull --json hf:org/q:q8_0 > "$TMP/p2.json" 2> "$TMP/err"
check "pull hf:org/q:q8_0 (other case) is the same entry" \
    sh -c "[ $? -eq 0 ] && [ '$(jv "$TMP/p2.json" 'j["id"]')' = '$ID' ]"
check "  ... nothing fetched again" [ "$(jv "$TMP/p2.json" 'j["fetched_bytes"]')" = 0 ]
check "  ... requested says :q8_0" [ "$(jv "$TMP/p2.json" 'j["requested"]')" = "hf:org/q:q8_0" ]
"$APCTL" show --json hf:org/q:q8_0 > "$TMP/show.json" 2> "$TMP/err"
check "apctl show finds it by the reference as requested" [ "$(jv "$TMP/show.json" 'j["id"]')" = "$ID" ]
"$APCTL" pull --json hf:org/q/a.Q8_0.gguf > "$TMP/p3.json" 2> "$TMP/err"
check "pull of the file the tag picks is the same entry" \
    sh -c "[ $? -eq 0 ] && [ '$(jv "$TMP/p3.json" 'j["id"]')' = '$ID' ]"
check "  ... typed as the canonical form: no requested member" \
    [ "$(jv "$TMP/p3.json" '"requested" in j')" = False ]
check "one catalog entry for org/q" \
    [ "$("$APCTL" ls --json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["name"]=="org/q"))')" = 1 ]

# --- offline (HF_HUB_OFFLINE, nothing in the HF cache): from the catalog ---
offline pull --json hf:org/q:q8_0 > "$TMP/o1.json" 2> "$TMP/err"
check "offline hf:org/q:q8_0 exits 0" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "  ... the same entry" [ "$(jv "$TMP/o1.json" 'j["id"]')" = "$ID" ]
check "  ... the bytes" cmp -s "$(path_of "$TMP/o1.json" a.Q8_0.gguf)" "$G/a.Q8_0.gguf"
offline pull --refresh hf:org/q:Q8_0 > /dev/null 2> "$TMP/err"
check "offline with --refresh (a fresh check demanded) fails" [ $? -ne 0 ]

# --- the hub unreachable (connection refused): the same ---
HF_ENDPOINT=http://127.0.0.1:9 "$APCTL" pull --json --max-attempts 1 hf:org/q:Q8_0 \
    > "$TMP/u1.json" 2> "$TMP/err"
check "hub unreachable: hf:org/q:Q8_0 from the catalog, the same entry" \
    sh -c "[ $? -eq 0 ] && [ '$(jv "$TMP/u1.json" 'j["id"]')' = '$ID' ]"
diag "$(cat "$TMP/err")"

# --- a snapshot entry serves its files offline ---
"$APCTL" pull --json hf:org/s > "$TMP/s.json" 2> "$TMP/err"
check "snapshot pull hf:org/s exits 0" [ $? -eq 0 ]
offline pull --json hf:org/s/config.json > "$TMP/o2.json" 2> "$TMP/err"
check "offline hf:org/s/config.json is served from the snapshot entry" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "  ... recorded in the snapshot entry (one entry), the right bytes" sh -c \
    "[ '$(jv "$TMP/o2.json" 'j["ref"]')' = hf:org/s ] && cmp -s '$(path_of "$TMP/o2.json" config.json)' '$TMP/config.json'"
check "  ... nothing transferred" [ "$(jv "$TMP/o2.json" 'j["fetched_bytes"]')" = 0 ]
offline pull --json hf:org/s:q4_k_m > "$TMP/o3.json" 2> "$TMP/err"
check "offline hf:org/s:q4_k_m picks among the snapshot entry's files" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "  ... recorded in the snapshot entry, s.Q4_K_M.gguf the right bytes" sh -c \
    "[ '$(jv "$TMP/o3.json" 'j["ref"]')' = hf:org/s ] && cmp -s '$(path_of "$TMP/o3.json" s.Q4_K_M.gguf)' '$G/s.Q4_K_M.gguf'"
check "  ... the file it picked is found by its reference (apctl path)" sh -c \
    "cmp -s \"\$('$APCTL' path hf:org/s/s.Q4_K_M.gguf)\" '$G/s.Q4_K_M.gguf'"
offline pull hf:org/s/missing.json > /dev/null 2> "$TMP/err"
check "offline: a file the snapshot entry does not hold fails" [ $? -ne 0 ]
done_testing
