#!/bin/sh
# What a file was checked against is recorded per file (ap_entry_file
# .verification, "verification" in the document): a plain URL with
# #sha256= is "sha256", one without is "none" -- warned at pull time, shown
# UNVERIFIED -- and --require-verified (AP_PROVISION_REQUIRE_VERIFIED)
# refuses it before anything is fetched or written.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 9
gen_bytes 300000 21 > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {"a.bin": {"generate": {"size": 300000, "seed": 21}},
           "b.bin": {"generate": {"size": 300000, "seed": 22}}}}
JSON
start_hub "$TMP/cfg.json"

"$APCTL" pull --json "$FILES/files/a.bin#sha256=$A" > "$TMP/o.json" 2> "$TMP/err"
check "a URL with its digest: pulled" [ $? -eq 0 ]
check "... verification sha256" [ "$(json_get "$TMP/o.json" 'j["files"][0]["verification"]')" = sha256 ]
check "... no unverified warning" sh -c "! grep -qi unverified '$TMP/err'"

"$APCTL" pull "$FILES/files/b.bin" > "$TMP/o" 2> "$TMP/err"
check "a URL without a digest: pulled" [ $? -eq 0 ]
check "... with a warning naming the file as unverified" \
    sh -c "grep -q \"b.bin' is unverified\" '$TMP/err'"
"$APCTL" show "$FILES/files/b.bin" > "$TMP/show" 2>&1
check "... show says UNVERIFIED" grep -q UNVERIFIED "$TMP/show"

: > "$FH_LOG"
AP_HOME="$TMP/h2" "$APCTL" pull --require-verified "$FILES/files/b.bin" > "$TMP/o" 2> "$TMP/err"
rc=$?
check "--require-verified refuses it (exit 5: AP_EDIGEST, and its message)" \
    sh -c "[ $rc -eq 5 ] && grep -q 'no digest, checksum or signature' '$TMP/err' && grep -q -- '--require-verified' '$TMP/err'"
check "... before any byte was fetched" [ "$(count_log '"b.bin" in r["path"]')" -eq 0 ]
check "... and nothing was recorded" sh -c "[ -z \"\$(ls '$TMP/h2/catalog' 2>/dev/null | grep json)\" ]"
done_testing
