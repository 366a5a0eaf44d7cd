#!/bin/sh
# GitHub release assets: each verification path, in order -- the asset's
# digest field, a checksum asset (NAME.sha256, SHA256SUMS, *checksums.txt;
# text and binary coreutils lines), else unverified (a warning) or refused
# with require_verified -- and wrong digests failing with AP_EDIGEST.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
. "$AP_SRC/t/integration/gh_lib.sh"
plan 28

gen_bytes 400000 va > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
gen_bytes 100000 vb > "$TMP/b.bin"
B=$(sha256 "$TMP/b.bin")
Z=0000000000000000000000000000000000000000000000000000000000000000
gen_bytes 1100000 big > "$TMP/big.txt"
ND='"digest": false'
cat > "$TMP/cfg.json" <<JSON
{"tokens": {"ghp_good": ["*"]},
 "repos": {"o/v": {"releases": [
  {"tag": "d1", "assets": {"a.bin": {"source": "$TMP/a.bin"},
                           "w.bin": {"source": "$TMP/b.bin", "digest": "sha256:$Z"}}},
  {"tag": "s1", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "SHA256SUMS": {"content": "# made by sha256sum -b\n$B *other.bin\n$A *a.bin\n", $ND}}},
  {"tag": "c1", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "tool_1.0_checksums.txt": {"content": "$B  other.bin\r\n$A  ./a.bin\r\n", $ND}}},
  {"tag": "h1", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "a.bin.sha256": {"content": "$A\n", $ND}}},
  {"tag": "x1", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "SHA256SUMS": {"content": "$B  a.bin\n", $ND}}},
  {"tag": "n1", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "README": {"content": "no sums here\n", $ND}}},
  {"tag": "p1", "assets": {"a.bin": {"source": "$TMP/a.bin"},
     "SHA256SUMS": {"content": "$B  a.bin\n", $ND}}},
  {"tag": "p2", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "a.bin.sha256": {"content": "$A  a.bin\n", $ND},
     "SHA256SUMS": {"content": "$B  a.bin\n", $ND}}},
  {"tag": "m1", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "SHA256SUMS": {"content": "$B  other.bin\n", $ND}}},
  {"tag": "big", "assets": {"a.bin": {"source": "$TMP/a.bin", $ND},
     "SHA256SUMS": {"source": "$TMP/big.txt", $ND}}}
 ]}}}
JSON
start_gh "$TMP/cfg.json"

# pull_ok NAME TAG [HOME]: pull a.bin of TAG; ok when it succeeds with the
# right bytes and no "unverified" warning
pull_ok() {
    AP_HOME="$TMP/home-$2" "$APCTL" pull --json "gh:o/v@$2/a.bin" > "$TMP/o.json" 2> "$TMP/err"
    rc=$?
    [ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
    check "$1: pull succeeds" [ $rc -eq 0 ]
    check "  ... right bytes, recorded digest, no 'unverified' warning" sh -c \
        "cmp -s '$(path_of "$TMP/o.json" a.bin)' '$TMP/a.bin' && \
         [ '$(json_get "$TMP/o.json" 'j["files"][0]["sha256"]' 2>/dev/null)' = $A ] && \
         ! grep -qi unverified '$TMP/err'"
}
# pull_bad TAG FILE: pull FILE of TAG with --events; sets rc, ST (status), err
pull_bad() {
    AP_HOME="$TMP/home-$1" "$APCTL" pull --events "gh:o/v@$1/$2" > "$TMP/ev" 2>&1
    rc=$?
    ST=$(error_status "$TMP/ev")
    grep -v '^{' "$TMP/ev" > "$TMP/err"
    diag "$(cat "$TMP/err")"
}

# 1. the digest field
pull_ok "digest field" d1
pull_bad d1 w.bin
check "a wrong digest field fails with AP_EDIGEST naming the asset" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -8 ] && grep -q 'w.bin' '$TMP/err' && grep -qi 'sha256 mismatch' '$TMP/err'"
check "  ... and nothing lands" sh -c "! find '$TMP/home-d1/models' -name w.bin 2>/dev/null | grep -q ."

# 2. checksum assets
: > "$FH_LOG"
GH_TOKEN=ghp_good pull_ok "SHA256SUMS (binary-mode lines)" s1
sa=$(count_log 'r["server"]=="api" and "/assets/" in r["path"] and r["headers"].get("authorization")=="Bearer ghp_good"')
sd=$(count_log 'r["server"]=="dl" and r["path"].split("?")[0].endswith("/SHA256SUMS") and r["status"]==200')
sx=$(count_log 'r["server"]=="dl" and "authorization" in r["headers"]')
check "  ... SHA256SUMS fetched through the asset API (with the token) and the signed URL (without)" \
    sh -c "[ $sa -ge 2 ] && [ $sd -eq 1 ] && [ $sx -eq 0 ]"
pull_ok "*checksums.txt (text-mode lines, CRLF, ./name)" c1
pull_ok "NAME.sha256 holding the digest alone" h1
pull_ok "the digest field comes before a (wrong) SHA256SUMS" p1
pull_ok "NAME.sha256 comes before a (wrong) SHA256SUMS" p2

pull_bad x1 a.bin
check "a wrong checksum line fails with AP_EDIGEST naming the asset" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -8 ] && grep -q 'a.bin' '$TMP/err' && grep -qi 'sha256 mismatch' '$TMP/err'"
check "  ... and nothing lands" sh -c "! find '$TMP/home-x1/models' -name a.bin 2>/dev/null | grep -q ."

# 3. a checksum file that does not list the asset, and none at all: unverified
for t in m1 n1; do
    AP_HOME="$TMP/home-$t" "$APCTL" pull --json "gh:o/v@$t/a.bin" > "$TMP/o.json" 2> "$TMP/err"
    rc=$?
    check "$t: unverified asset: pull succeeds" [ $rc -eq 0 ]
    check "  ... right bytes" cmp -s "$(path_of "$TMP/o.json" a.bin)" "$TMP/a.bin"
    check "  ... apctl warns: no digest, checksum file or signature: unverified" sh -c \
        "grep -q '^warning: ' '$TMP/err' && grep -q \"'a.bin'\" '$TMP/err' && \
         grep -q 'no digest, checksum file or signature: unverified' '$TMP/err'"
    diag "$(cat "$TMP/err")"
done

# 4. require_verified refuses an unverified asset, and only that
AP_GITHUB_REQUIRE_VERIFIED=1 AP_HOME="$TMP/home-req" "$APCTL" pull --events gh:o/v@n1/a.bin > "$TMP/ev" 2>&1
rc=$?
ST=$(error_status "$TMP/ev")
grep -v '^{' "$TMP/ev" > "$TMP/err"
diag "$(cat "$TMP/err")"
check "AP_GITHUB_REQUIRE_VERIFIED=1 refuses an unverified asset with AP_EDIGEST" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -8 ] && grep -q 'gh:o/v@n1/a.bin' '$TMP/err' && grep -q \"'a.bin'\" '$TMP/err' && grep -q 'require_verified' '$TMP/err'"
check "  ... before any byte is fetched" sh -c "! find '$TMP/home-req/models' -name a.bin 2>/dev/null | grep -q ."
AP_GITHUB_REQUIRE_VERIFIED=1 AP_HOME="$TMP/home-req2" "$APCTL" pull gh:o/v@s1/a.bin > /dev/null 2> "$TMP/err"
check "  ... while a checksummed asset passes" [ $? -eq 0 ]
"$APCTL" pull -o require_verified=1 gh:o/v@n1/a.bin > /dev/null 2> "$TMP/err"
rc=$?
check "apctl pull -o require_verified=1 refuses an unverified asset" \
    sh -c "[ $rc -ne 0 ] && grep -q 'require_verified' '$TMP/err'"

# 5. a checksum file over the size bound (1 MiB) fails the resolve
AP_HOME="$TMP/home-big" "$APCTL" pull gh:o/v@big/a.bin > /dev/null 2> "$TMP/err"
rc=$?
check "a SHA256SUMS over 1 MiB is refused, nothing lands" sh -c \
    "[ $rc -ne 0 ] && ! find '$TMP/home-big/models' -name a.bin 2>/dev/null | grep -q ."
diag "$(cat "$TMP/err")"
done_testing
