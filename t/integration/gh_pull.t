#!/bin/sh
# GitHub releases through apctl against t/fixtures/fakegh.py: the latest
# release, a tag, a glob over tags across pages of the release list (drafts
# and prereleases), several assets in one entry, the whole release, the API
# headers, and tokens: sent to the API, never to the signed download host.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
. "$AP_SRC/t/integration/gh_lib.sh"
plan 34

for s in 1 2 3 4 5 6 7; do gen_bytes 300000 "gh$s" > "$TMP/g$s.bin"; done
cat > "$TMP/cfg.json" <<JSON
{"page_size": 2,
 "tokens": {"ghp_good": ["*"], "ghp_none": []},
 "repos": {
  "o/tool": {"releases": [
    {"tag": "v1.0", "created_at": "2024-01-01T00:00:00Z", "assets": {
       "tool-linux.bin": {"source": "$TMP/g1.bin"},
       "tool-mac.bin": {"source": "$TMP/g2.bin"}}},
    {"tag": "v1.1", "created_at": "2024-02-01T00:00:00Z", "assets": {
       "tool-linux.bin": {"source": "$TMP/g3.bin"},
       "tool-mac.bin": {"source": "$TMP/g4.bin"},
       "NOTES.txt": {"content": "release notes 1.1\n"},
       "SHA256SUMS": {"content": "$(sha256 "$TMP/g3.bin")  tool-linux.bin\n"}}},
    {"tag": "v2.0-rc1", "prerelease": true, "created_at": "2024-03-01T00:00:00Z",
     "assets": {"tool-linux.bin": {"source": "$TMP/g5.bin"}}},
    {"tag": "v2.0", "draft": true, "created_at": "2024-04-01T00:00:00Z",
     "assets": {"tool-linux.bin": {"source": "$TMP/g6.bin"}}}
  ]},
  "o/many": {"releases": [
    {"tag": "v0.1", "created_at": "2023-01-01T00:00:00Z", "assets": {"m.bin": {"content": "v0.1"}}},
    {"tag": "v0.2", "created_at": "2023-02-01T00:00:00Z", "assets": {"m.bin": {"content": "v0.2"}}},
    {"tag": "v0.3", "created_at": "2023-03-01T00:00:00Z", "assets": {"m.bin": {"source": "$TMP/g7.bin"}}},
    {"tag": "nightly-4", "created_at": "2023-04-01T00:00:00Z", "assets": {"m.bin": {"content": "n4"}}},
    {"tag": "nightly-5", "created_at": "2023-05-01T00:00:00Z", "assets": {"m.bin": {"content": "n5"}}},
    {"tag": "nightly-6", "created_at": "2023-06-01T00:00:00Z", "assets": {"m.bin": {"content": "n6"}}},
    {"tag": "nightly-7", "created_at": "2023-07-01T00:00:00Z", "assets": {"m.bin": {"content": "n7"}}}
  ]},
  "o/private": {"private": true, "releases": [
    {"tag": "p1", "created_at": "2024-01-01T00:00:00Z", "assets": {"secret.bin": {"source": "$TMP/g1.bin"}}}
  ]}
 }}
JSON
start_gh "$TMP/cfg.json"

# --- latest ---
"$APCTL" pull --json gh:o/tool/tool-linux.bin > "$TMP/o.json" 2> "$TMP/err"
check "latest release: pull succeeds" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "  ... the bytes are v1.1's (the newest non-draft, non-prerelease)" \
    cmp -s "$(path_of "$TMP/o.json" tool-linux.bin)" "$TMP/g3.bin"
check "  ... the entry's revision is the tag" [ "$(json_get "$TMP/o.json" 'j["revision"]')" = v1.1 ]
check "  ... asked /releases/latest" [ "$(count_log 'r["path"]=="/repos/o/tool/releases/latest"')" -ge 1 ]

# --- tagged ---
"$APCTL" pull --json gh:o/tool@v1.0/tool-mac.bin > "$TMP/o.json" 2> "$TMP/err"
check "tagged release: pull succeeds" [ $? -eq 0 ]
check "  ... bytes of v1.0's tool-mac.bin" cmp -s "$(path_of "$TMP/o.json" tool-mac.bin)" "$TMP/g2.bin"
check "  ... through /releases/tags/v1.0" [ "$(count_log 'r["path"]=="/repos/o/tool/releases/tags/v1.0"')" -eq 1 ]

# --- several assets in one entry ---
AP_HOME="$TMP/h2" "$APCTL" pull --json 'gh:o/tool@v1.1/tool-*.bin' > "$TMP/o.json" 2> "$TMP/err"
check "asset glob: pull succeeds" [ $? -eq 0 ]
check "  ... one entry with both matching assets" [ "$(names_of "$TMP/o.json")" = "tool-linux.bin tool-mac.bin" ]
check "  ... both with the right bytes" sh -c "cmp -s '$(path_of "$TMP/o.json" tool-linux.bin)' '$TMP/g3.bin' && cmp -s '$(path_of "$TMP/o.json" tool-mac.bin)' '$TMP/g4.bin'"

# --- the whole release (no glob): every asset but checksum files ---
AP_HOME="$TMP/h3" "$APCTL" pull --json 'gh:o/tool@v1.1' > "$TMP/o.json" 2> "$TMP/err"
check "no asset glob: pull succeeds" [ $? -eq 0 ]
check "  ... every asset but SHA256SUMS" [ "$(names_of "$TMP/o.json")" = "NOTES.txt tool-linux.bin tool-mac.bin" ]
check "  ... NOTES.txt bytes" sh -c "[ \"\$(cat '$(path_of "$TMP/o.json" NOTES.txt)')\" = 'release notes 1.1' ]"

# --- a glob over tags, across pages of two ---
n0=$(count_log 'r["path"].startswith("/repos/o/many/releases?")')
AP_HOME="$TMP/h4" "$APCTL" pull --json 'gh:o/many@v0.*/m.bin' > "$TMP/o.json" 2> "$TMP/err"
check "tag glob: pull succeeds" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "  ... the newest matching tag (v0.3, on page 3 of the list)" sh -c \
    "[ '$(json_get "$TMP/o.json" 'j["revision"]')' = v0.3 ] && cmp -s '$(path_of "$TMP/o.json" m.bin)' '$TMP/g7.bin'"
n1=$(count_log 'r["path"].startswith("/repos/o/many/releases?")')
p3=$(count_log '"page=3" in r["path"]')
p4=$(count_log '"page=4" in r["path"]')
check "  ... followed Link rel=next to page 3 and no further" sh -c \
    "[ $n1 -eq $((n0 + 3)) ] && [ $p3 -eq 1 ] && [ $p4 -eq 0 ]"
AP_HOME="$TMP/h5" "$APCTL" pull --json 'gh:o/tool@v1*/tool-linux.bin' > "$TMP/o.json" 2> "$TMP/err"
check "tag glob v1*: v1.1" [ "$(json_get "$TMP/o.json" 'j["revision"]')" = v1.1 ]
AP_HOME="$TMP/h5" "$APCTL" pull --json 'gh:o/tool@v2*/tool-linux.bin' > "$TMP/o.json" 2> "$TMP/err"
check "tag glob v2*: the draft is skipped, the only match is a prerelease: taken" sh -c \
    "[ '$(json_get "$TMP/o.json" 'j["revision"]')' = v2.0-rc1 ] && cmp -s '$(path_of "$TMP/o.json" tool-linux.bin)' '$TMP/g5.bin'"
AP_HOME="$TMP/h5" "$APCTL" pull --json 'gh:o/tool@v*/tool-linux.bin' > "$TMP/o.json" 2> "$TMP/err"
check "tag glob v*: a release is preferred to a newer prerelease" [ "$(json_get "$TMP/o.json" 'j["revision"]')" = v1.1 ]

# --- API headers ---
check "API requests carry Accept: application/vnd.github+json and X-GitHub-Api-Version" [ \
    "$(count_log 'r["server"]=="api" and "/assets/" not in r["path"] and (r["headers"].get("accept") != "application/vnd.github+json" or r["headers"].get("x-github-api-version") != "2022-11-28")')" -eq 0 ]
na=$(count_log 'r["server"]=="api" and "/assets/" in r["path"]')
nb=$(count_log 'r["server"]=="api" and "/assets/" in r["path"] and r["headers"].get("accept") != "application/octet-stream"')
check "asset downloads ask for application/octet-stream on the API" sh -c "[ $na -ge 1 ] && [ $nb -eq 0 ]"
check "every request names libartifactprov's GitHub vendor as User-Agent" [ \
    "$(count_log 'r["server"]=="api" and "ap-vendor-github/" not in r["headers"].get("user-agent","")')" -eq 0 ]
check "the bytes came from the signed-URL host" [ "$(count_log 'r["server"]=="dl" and r["status"] in (200, 206)')" -ge 5 ]

# --- tokens ---
"$APCTL" pull gh:o/private/secret.bin > /dev/null 2> "$TMP/err"
check "private repository without a token: not found, with a GH_TOKEN hint" sh -c \
    "grep -q 'gh:o/private/secret.bin' '$TMP/err' && grep -qi 'not found' '$TMP/err' && grep -q GH_TOKEN '$TMP/err'"
: > "$FH_LOG"
GH_TOKEN=ghp_good "$APCTL" pull --json gh:o/private/secret.bin > "$TMP/o.json" 2> "$TMP/err"
check "private repository with GH_TOKEN: pull succeeds" [ $? -eq 0 ]
check "  ... right bytes" cmp -s "$(path_of "$TMP/o.json" secret.bin)" "$TMP/g1.bin"
ta=$(count_log 'r["server"]=="api" and r["headers"].get("authorization")=="Bearer ghp_good" and "/assets/" in r["path"]')
tl=$(count_log 'r["server"]=="api" and r["headers"].get("authorization")=="Bearer ghp_good" and r["path"].endswith("/releases/latest")')
check "  ... the token reached the API (release and asset requests)" sh -c "[ $ta -ge 1 ] && [ $tl -eq 1 ]"
da=$(count_log 'r["server"]=="dl" and "authorization" in r["headers"]')
ds=$(count_log 'r["server"]=="dl" and r["status"] in (200, 206)')
check "  ... and never the signed-URL host, which served the bytes" sh -c "[ $da -eq 0 ] && [ $ds -ge 1 ]"
# the check above can fail: the signed-URL host answers 400 to a token
sig=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["server"] == "dl" and r["status"] in (200, 206):
        print(r["path"]); break' "$FH_LOG")
code=$(python3 -c '
import sys, urllib.request, urllib.error
q = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer ghp_good"})
try:
    print(urllib.request.urlopen(q).status)
except urllib.error.HTTPError as e:
    print(e.code)' "$DL$sig")
check "fixture: the signed URL with the token is answered 400 ($code)" [ "$code" = 400 ]
GITHUB_TOKEN=ghp_good AP_HOME="$TMP/h6" "$APCTL" pull gh:o/private/secret.bin > /dev/null 2> "$TMP/err"
check "GITHUB_TOKEN works when GH_TOKEN is unset" [ $? -eq 0 ]
GH_TOKEN='  ' GITHUB_TOKEN=ghp_good AP_HOME="$TMP/h8" "$APCTL" pull gh:o/private/secret.bin > /dev/null 2> "$TMP/err"
check "a GH_TOKEN of blanks counts as unset: GITHUB_TOKEN is used" [ $? -eq 0 ]
GH_TOKEN=ghp_bad GITHUB_TOKEN=ghp_good AP_HOME="$TMP/h7" "$APCTL" pull --events gh:o/private/secret.bin > "$TMP/ev" 2>&1
grep -v '^{' "$TMP/ev" > "$TMP/err"
check "GH_TOKEN comes first: a bad one is refused (AP_EAUTH), naming GH_TOKEN" sh -c \
    "[ '$(error_status "$TMP/ev")' = -6 ] && grep -qi 'token refused' '$TMP/err' && grep -q GH_TOKEN '$TMP/err'"
diag "$(cat "$TMP/err")"

# --- the API unreachable: the catalog's ready entry is used, with a warning ---
stop_pids "$FH_PID"; FH_PID=
"$APCTL" pull --json gh:o/tool/tool-linux.bin > "$TMP/o.json" 2> "$TMP/err"
check "API down: the ready entry of the same reference is used" sh -c \
    "[ $? -eq 0 ] && cmp -s '$(path_of "$TMP/o.json" tool-linux.bin 2>/dev/null)' '$TMP/g3.bin'"
check "  ... saying the origin could not be reached" grep -q 'could not be reached' "$TMP/err"
done_testing
