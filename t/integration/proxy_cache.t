#!/bin/sh
# A shared HTTP cache serves a fleet: nginx (proxy_cache, proxy_cache_lock,
# the key without the CDN's signed query) in front of the fake hub and its
# CDN, whose redirects are signed anew on every request; 8 apctl processes
# with separate stores pull the same model at once.  The origin's log shows
# the model's bytes served once (<= 1.1x), and every client verified them.
# The configuration is docs/fleet.md's `common` and `huggingface` blocks, as
# the doc gives them: only the hosts, ports and cache directory are replaced
# by loopback ones.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
if ! command -v nginx > /dev/null 2>&1; then
    echo "1..0 # SKIP nginx is not installed (Debian package nginx)"; exit 0
fi
plan 5
C1=1111111111111111111111111111111111111111
W=6000000
gen_bytes $W 21 > "$TMP/w.bin"
cat > "$TMP/cfg.json" <<JSON
{"cdn_sign_per_request": true,
 "repos": {"org/m": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
   "config.json": {"content": {"model_type": "llama"}},
   "w.bin": {"generate": {"size": $W, "seed": 21}, "lfs": true}}}}}}}
JSON
start_hub "$TMP/cfg.json"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
NX="$TMP/nginx"
mkdir -p "$NX/tmp"
HP=$(free_port); CP=$(free_port)
fleet_check common huggingface
fleet_conf "$NX" common huggingface | sed -e "s|/var/cache/nginx/models|$NX/cache|" \
        -e "s|https://huggingface.co|$HUB|" -e "s|listen 8080;|listen 127.0.0.1:$HP;|" \
        -e "s|https://cdn-lfs.hf.co|$CDN|g" -e "s|listen 8081;|listen 127.0.0.1:$CP;|" \
        -e "s|http://cache.lab:8081|http://127.0.0.1:$CP|" \
        > "$NX/nginx.conf"
NGINX=
trap 'stop_pids "$NGINX"; cleanup' EXIT INT TERM
fleet_nginx_start "$NX" "$CP" "$HP"
: > "$FH_LOG"

pids=
for n in 1 2 3 4 5 6 7 8; do
    AP_HOME="$TMP/home$n" HF_ENDPOINT="http://127.0.0.1:$HP" \
        "$APCTL" pull --quiet hf:org/m > "$TMP/out$n" 2> "$TMP/err$n" &
    pids="$pids $!"
done
fails=0
for p in $pids; do wait $p || fails=$((fails + 1)); done
check "8 concurrent pulls through the cache all succeed" [ $fails -eq 0 ]
[ $fails -ne 0 ] && diag "$(cat "$TMP"/err*)"

ok=1
for n in 1 2 3 4 5 6 7 8; do
    p=$(AP_HOME="$TMP/home$n" "$APCTL" path hf:org/m w.bin) && cmp -s "$p" "$TMP/w.bin" &&
        AP_HOME="$TMP/home$n" "$APCTL" verify > /dev/null || ok=0
done
check "every client stored and verified the model's bytes" [ $ok -eq 1 ]

CDN_BYTES=$(python3 -c '
import json, sys
print(sum(r.get("bytes", 0) for r in map(json.loads, open(sys.argv[1])) if r["server"] == "cdn"))' "$FH_LOG")
ALL_BYTES=$(python3 -c '
import json, sys
print(sum(r.get("bytes", 0) for r in map(json.loads, open(sys.argv[1]))))' "$FH_LOG")
diag "origin served $ALL_BYTES bytes ($CDN_BYTES from the CDN) for 8 pulls of a $W-byte model"
check "the CDN origin served the model's bytes once" [ "$CDN_BYTES" -eq $W ]
check "the whole origin served at most 1.1x the model" [ "$ALL_BYTES" -le $((W * 11 / 10)) ]
check "the redirects were signed anew each time (the key ignores it)" \
    [ "$(grep -o 'Signature=[0-9a-f]*' "$NX/access.log" | sort -u | wc -l)" -ge 2 ]
done_testing
