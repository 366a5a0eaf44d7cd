#!/bin/sh
# Files the user already has in the Hugging Face cache are reused without
# download (LFS by sha256, regular files by git blob id), and a blob that
# rotted there is not imported: the hub serves the file instead.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 7
C1=abababababababababababababababababababab
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/r": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
  "config.json": {"content": "{\"hidden_size\": 64}"},
  "w.bin": {"generate": {"size": 2000000, "seed": 41}, "lfs": true}}}}}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
# publish both files into an HF cache from one store...
AP_HOME="$TMP/first" "$APCTL" pull --hf-cache="$TMP/hfc" --quiet hf:org/r/config.json 2>/dev/null
AP_HOME="$TMP/first" "$APCTL" pull --hf-cache="$TMP/hfc" --quiet hf:org/r/w.bin 2>/dev/null
: > "$FH_LOG"
# ...then pull them into a fresh store that may read that cache
export HF_HUB_CACHE="$TMP/hfc"
"$APCTL" pull --json hf:org/r/config.json > "$TMP/c.json" 2> "$TMP/err"
check "regular file pulled with the HF cache present" [ $? -eq 0 ]
check "  ... 0 bytes fetched" [ "$(json_get "$TMP/c.json" 'j["fetched_bytes"]')" = 0 ]
"$APCTL" pull --json hf:org/r/w.bin > "$TMP/w.json" 2> "$TMP/err"
check "LFS file pulled with the HF cache present, 0 bytes fetched" \
    [ "$(json_get "$TMP/w.json" 'j["fetched_bytes"]')" = 0 ]
check "  ... no file body was requested (HEADs only)" \
    [ "$(count_log 'r["method"] == "GET" and "/resolve/" in r["path"] or r["server"] == "cdn"')" = 0 ]
# a regular blob that rotted in the cache is not imported: it is checked
# by its git blob id, and the hub serves the file instead
git=$(json_get "$TMP/c.json" 'j["files"][0]["git_sha1"]')
chmod u+w "$TMP/hfc/models--org--r/blobs/$git"
printf '{"hidden_size": 99}' > "$TMP/hfc/models--org--r/blobs/$git"
AP_HOME="$TMP/third" "$APCTL" pull --json --events hf:org/r/config.json > "$TMP/c2.json" 2> "$TMP/err"
rc=$?
p=$(json_get "$TMP/c2.json" 'j["files"][0]["path"]' 2>/dev/null)
check "a rotted regular blob in the HF cache is not used: the hub serves the right bytes" sh -c \
    "[ $rc -eq 0 ] && [ \"\$(cat '$p')\" = '{\"hidden_size\": 64}' ]"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
check "  ... and the pull says why (git blob id mismatch)" grep -q 'git blob id mismatch' "$TMP/err"
unset HF_HUB_CACHE
AP_HOME="$TMP/fourth" "$APCTL" pull --json hf:org/r/config.json > "$TMP/c3.json" 2> "$TMP/err"
rc=$?
p=$(json_get "$TMP/c3.json" 'j["files"][0]["path"]' 2>/dev/null)
check "without the cache the same pull downloads the right bytes" sh -c \
    "[ $rc -eq 0 ] && [ \"\$(cat '$p')\" = '{\"hidden_size\": 64}' ]"
done_testing
