#!/bin/sh
# docs/fleet.md's nginx proxy_cache blocks for GitHub release assets and an
# Ollama registry, run as the doc gives them: the `common`, `github` and
# `ollama` blocks are read from docs/fleet.md and only their host names,
# ports and cache directory are replaced by loopback ones.  In front of
# t/fixtures/fakegh.py (assets by 302 to a signed URL on another host) and
# t/fixtures/fakeregistry.py (blobs by 307 to a CDN on another host), 8 apctl
# processes with separate stores pull the same file at once; the object
# host's log shows its bytes served once (<= 1.1x) and every client verified
# them.  The `huggingface` block is loaded too (nginx accepts it); the Hugging
# Face scenario itself is t/integration/proxy_cache.t.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
. "$AP_SRC/t/integration/gh_lib.sh"
if ! command -v nginx > /dev/null 2>&1; then
    echo "1..0 # SKIP nginx is not installed (Debian package nginx)"; exit 0
fi
plan 8
N=8
W=1000000
# The fakes log one JSON object a line (fakegh compact, fakeregistry with
# a space after each colon).  lines LOG SERVER [ERE...]: how many lines of
# SERVER match every ERE; bytes_of LOG SERVER [ERE...]: the body bytes they say
# were sent.
grep_all() {
    if [ $# -eq 0 ]; then cat; else _e=$1; shift; grep -E -- "$_e" | grep_all "$@"; fi
}
lines_of() {
    _f=$1 _s=$2; shift 2
    grep_all "\"server\": ?\"$_s\"" "$@" < "$_f"
}
lines() { lines_of "$@" | wc -l; }
bytes_of() {
    lines_of "$@" | sed -n 's/.*"bytes": \{0,1\}\([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}

# --- the origins ------------------------------------------------------------------
gen_bytes $W 31 > "$TMP/asset.bin"
cat > "$TMP/cfg.json" <<JSON
{"tokens": {"ghp_fleet": ["*"]},
 "repos": {"o/tool": {"releases": [
   {"tag": "v1.0", "created_at": "2024-01-01T00:00:00Z", "assets": {
      "tool.bin": {"source": "$TMP/asset.bin"}}}]}}}
JSON
start_gh "$TMP/cfg.json"
GH_PID=$FH_PID; GH_LOG=$FH_LOG; FH_PID=

cat > "$TMP/reg.json" <<JSON
{"models": {"library/tiny": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "file": "$TMP/asset.bin"}]}}}}}
JSON
RLOG="$TMP/reg.log"
: > "$RLOG"
python3 "$AP_SRC/t/fixtures/fakeregistry.py" --config "$TMP/reg.json" --log "$RLOG" \
    --ready-file "$TMP/rready" > /dev/null &
REG_PID=$!
NX="$TMP/nginx"
NGINX=
trap 'stop_pids "$NGINX" "$REG_PID" "$GH_PID"; cleanup' \
    EXIT INT TERM
i=0
while [ ! -s "$TMP/rready" ]; do
    i=$((i + 1))
    if [ $i -gt 500 ]; then echo "Bail out! fake registry did not start"; exit 1; fi
    sleep 0.02
done
REG=$(sed 's/.*"registry": *"\([^"]*\)".*/\1/' "$TMP/rready")

# --- nginx with the doc's blocks ---------------------------------------------------
set -- $(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))')
GP=$1 OP=$2 HP1=$3 HP2=$4
mkdir -p "$NX/tmp"
fleet_check common github ollama huggingface
fleet_conf "$NX" common github ollama huggingface | sed -e "s|/var/cache/nginx/models|$NX/cache|" \
        -e "s|https://api.github.com|$API|g" \
        -e "s|https://registry.ollama.ai|$REG|g" \
        -e "s|http://cache.lab:8082|http://127.0.0.1:$GP|g" \
        -e "s|listen 8082;|listen 127.0.0.1:$GP;|" \
        -e "s|listen 8084;|listen 127.0.0.1:$OP;|" \
        -e "s|https://huggingface.co|http://127.0.0.1:$HP1|" -e "s|listen 8080;|listen 127.0.0.1:$HP1;|" \
        -e "s|https://cdn-lfs.hf.co|http://127.0.0.1:$HP2|" -e "s|listen 8081;|listen 127.0.0.1:$HP2;|" \
        > "$NX/nginx.conf"
fleet_nginx_start "$NX" "$GP" "$OP"
: > "$GH_LOG"
: > "$RLOG"

# pull_all NAME REF [OPTION...]: N apctl processes with separate stores pull
# REF at once; fails unless all succeed and each stored the source's bytes
# (the file of REF that is FILE below) and `apctl verify` passes.
pull_all() {
    name=$1 ref=$2 src=$3; shift 3
    pids=
    for n in $(seq $N); do
        AP_HOME="$TMP/$name$n" HOME="$TMP/$name-user$n" \
            "$APCTL" pull --quiet --json "$@" "$ref" > "$TMP/$name$n.json" 2> "$TMP/$name$n.err" &
        pids="$pids $!"
    done
    fails=0
    for p in $pids; do wait $p || fails=$((fails + 1)); done
    [ $fails -eq 0 ] || { diag "$(cat "$TMP/$name"*.err)"; return 1; }
    for n in $(seq $N); do
        p=$(jq -r --argjson w "$W" '.files[] | select(.size == $w) | .path' \
            "$TMP/$name$n.json") &&
            cmp -s "$p" "$src" && AP_HOME="$TMP/$name$n" "$APCTL" verify > /dev/null ||
            { diag "client $n of $name: $(cat "$TMP/$name$n.err")"; return 1; }
    done
}

# --- GitHub release assets ---------------------------------------------------------
GITHUB_API_URL="http://127.0.0.1:$GP" GH_TOKEN=ghp_fleet
export GITHUB_API_URL GH_TOKEN
pull_all gh gh:o/tool@v1.0/tool.bin "$TMP/asset.bin"
check "github: $N concurrent pulls through the cache succeed and verify the asset" [ $? -eq 0 ]
unset GITHUB_API_URL GH_TOKEN
DL=$(bytes_of "$GH_LOG" dl)
diag "fakegh's download host served $DL bytes for $N pulls of a $W-byte asset"
check "github: the signed download host served the asset once (<= 1.1x)" \
    [ "$DL" -ge $W -a "$DL" -le $((W * 11 / 10)) ]
check "github: every client asked the front for the asset (the API's asset URLs rewritten)" \
    [ "$(grep -c 'GET /repos/o/tool/releases/assets/' "$NX/access.log")" -ge $N ]
check "github: no Authorization reached the download host" \
    [ "$(lines "$GH_LOG" dl '"authorization"')" -eq 0 ]

# --- an Ollama registry through a PREFIX=BASE mirror ----------------------------------
HP=${REG#http://}
pull_all ol "ollama:http://$HP/library/tiny:latest" "$TMP/asset.bin" \
    --mirror "$REG=http://127.0.0.1:$OP"
check "ollama: $N concurrent pulls with --mirror REGISTRY=FRONT succeed and verify the model" [ $? -eq 0 ]
M=$(sha256 "$TMP/asset.bin")
CB=$(bytes_of "$RLOG" cdn "/blob/$M")
diag "the registry's CDN served $CB bytes of the model for $N pulls of a $W-byte model"
check "ollama: the CDN served the model once (<= 1.1x)" \
    [ "$CB" -ge $W -a "$CB" -le $((W * 11 / 10)) ]
check "ollama: every client asked the front for the blob, the front followed the 307" \
    [ "$(grep -c "GET /v2/library/tiny/blobs/sha256:$M" "$NX/access.log")" -ge $N -a \
      "$(lines "$RLOG" registry "/blobs/sha256:$M" '"status": ?307')" -ge 1 ]
check "nginx ran the doc's blocks without an error" \
    sh -c "! grep -q '\[\(error\|crit\|alert\|emerg\)\]' '$NX/error.log'"
[ $? -eq 0 ] || diag "$(cat "$NX/error.log")"
done_testing
