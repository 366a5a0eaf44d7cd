#!/bin/sh
# GitHub releases: what fails says what was missing or refused -- a missing
# repository, tag, release or asset (listing the asset names), malformed
# references, 401/403 without a rate limit (AP_EAUTH with a GH_TOKEN hint),
# a bad API URL -- and apctl vendors lists the vendor.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
. "$AP_SRC/t/integration/gh_lib.sh"
plan 20

cat > "$TMP/c.json" <<JSON
{"tokens": {"ghp_good": ["*"]},
 "repos": {
  "o/r": {"releases": [{"tag": "v1", "assets": {
      "tool-linux-amd64.tar.gz": {"content": "l"}, "tool-darwin-arm64.tar.gz": {"content": "d"},
      "SHA256SUMS": {"content": "x"}}}]},
  "o/empty": {"releases": []},
  "o/broken": {"malformed": true, "releases": []},
  "o/bare": {"releases": [{"tag": "b1", "assets": {"SHA256SUMS": {"content": "x"}}}]}
 }}
JSON
cp "$TMP/c.json" "$TMP/cfg.json"
start_gh "$TMP/cfg.json"
run() { # run REF: apctl pull --events REF; sets rc, ST and $TMP/err
    "$APCTL" pull --events "$@" > "$TMP/ev" 2>&1
    rc=$?
    ST=$(error_status "$TMP/ev")
    grep -v '^{' "$TMP/ev" > "$TMP/err"
    diag "$(cat "$TMP/err")"
}

"$APCTL" vendors > "$TMP/v" 2>&1
check "apctl vendors lists github with the gh: and github: schemes" grep -q '^github .*schemes: gh: github:' "$TMP/v"

run gh:o/nope/x.bin
check "missing repository: AP_ENOTFOUND naming it, with a token hint" sh -c \
    "[ '$ST' = -5 ] && grep -q 'gh:o/nope/x.bin' '$TMP/err' && grep -q 'repository o/nope not found' '$TMP/err' && grep -q GH_TOKEN '$TMP/err'"
run gh:o/r@v9/x.bin
check "missing tag: AP_ENOTFOUND naming the tag and the repository" sh -c \
    "[ '$ST' = -5 ] && grep -q \"no release with tag 'v9' in o/r\" '$TMP/err'"
run 'gh:o/r@v9*/x.bin'
check "tag glob matching nothing: AP_ENOTFOUND listing the tags seen" sh -c \
    "[ '$ST' = -5 ] && grep -q \"tag matching 'v9\\*'\" '$TMP/err' && grep -q 'v1' '$TMP/err'"
run gh:o/empty
check "repository without releases: AP_ENOTFOUND 'has no published release'" sh -c \
    "[ '$ST' = -5 ] && grep -q 'o/empty has no published release' '$TMP/err'"
run 'gh:o/r/*.zip'
check "no asset matches: AP_ENOTFOUND listing the asset names" sh -c \
    "[ '$ST' = -5 ] && grep -q \"matches '\\*.zip'\" '$TMP/err' && grep -q \"'tool-linux-amd64.tar.gz', 'tool-darwin-arm64.tar.gz', 'SHA256SUMS'\" '$TMP/err'"
run gh:o/bare
check "a release with only checksum files and no glob: AP_ENOTFOUND naming them" sh -c \
    "[ '$ST' = -5 ] && grep -q 'has no assets besides checksum and signature files' '$TMP/err' && grep -q SHA256SUMS '$TMP/err'"
run gh:o/broken/x
check "a release that is not JSON: AP_EPROTOCOL saying so" sh -c \
    "[ '$ST' = -13 ] && grep -q 'not JSON' '$TMP/err'"
run 'gh:o/broken@v*/x'
check "a releases list that is not JSON: AP_EPROTOCOL saying so" sh -c \
    "[ '$ST' = -13 ] && grep -q 'releases list: the API.s answer is not JSON' '$TMP/err'"
check "no byte was downloaded for any of these" [ "$(count_log 'r["server"]=="dl"')" -eq 0 ]

for ref in 'gh:o' 'gh:o/' 'gh:o/r@' 'gh:o/r@v1/' 'gh:o/r/a/b' 'gh:o_x/r' 'gh:o/r@%zz/a'; do
    run "$ref"
    check "malformed reference '$ref': AP_EINVAL with the grammar" sh -c \
        "[ '$ST' = -2 ] && grep -q 'gh:OWNER/REPO\\[@TAG\\]/ASSET-GLOB' '$TMP/err'"
done

sed 's/^{/{"require_token": true, /' "$TMP/c.json" > "$TMP/c2.json"
new_config "$TMP/c2.json"
run gh:o/r/SHA256SUMS
check "401 without a token: AP_EAUTH, asking for GH_TOKEN" sh -c \
    "[ '$ST' = -6 ] && grep -q 'authentication required' '$TMP/err' && grep -q GH_TOKEN '$TMP/err'"
sed 's/^{/{"forbidden": true, /' "$TMP/c.json" > "$TMP/c3.json"
new_config "$TMP/c3.json"
run gh:o/r/SHA256SUMS
check "403 without a rate limit: AP_EAUTH (not a wait), with a GH_TOKEN hint" sh -c \
    "[ '$ST' = -6 ] && grep -q 'access denied' '$TMP/err' && grep -q GH_TOKEN '$TMP/err' && ! grep -q waiting '$TMP/err'"
GITHUB_API_URL=ftp://127.0.0.1/x run gh:o/r/SHA256SUMS
check "GITHUB_API_URL that is not http(s): AP_EINVAL naming the variable" sh -c \
    "[ '$ST' = -2 ] && grep -q 'GITHUB_API_URL' '$TMP/err'"
done_testing
