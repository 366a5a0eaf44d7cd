#!/bin/sh
# A job's engine session outlives its batches: a snapshot of more files than
# one batch holds (`ulimit -n 80` with 8 connections makes batches of about
# 6 files: the provisioner's batch_size) is fetched in several engine calls,
# yet a mirror that is down is reported once for the job (the failure state
# lives with the job's parsed mirror list), and the connections to the hub
# and its CDN are reused from batch to batch: no more connections than one
# batch may open (--per-host 2; 8 in all leaves room for the mirror's
# attempts, so that no idle connection is closed to make room).  Before, each batch parsed the mirror list
# again (one report per batch) and had its own connection cache (every
# batch reconnected).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 5
C1=1111111111111111111111111111111111111111
N=40
python3 - "$TMP/cfg.json" "$N" <<PY
import json, sys
n = int(sys.argv[2])
files = {f"f{i:03d}.bin": {"generate": {"size": 20000, "seed": 100 + i}, "lfs": True}
         for i in range(n)}
json.dump({"repos": {"org/many": {"refs": {"main": "$C1"},
                                  "commits": {"$C1": {"files": files}}}}},
          open(sys.argv[1], "w"))
PY
DOWN=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

( ulimit -n 80; "$APCTL" pull --connections 8 --per-host 2 \
      --mirror "http://127.0.0.1:$DOWN/cas" hf:org/many > /dev/null 2> "$TMP/err" )
check "$N files in several batches with a down mirror: the pull succeeds" [ $? -eq 0 ]
reports=$(grep -c "mirror http://127.0.0.1:$DOWN/cas failed" "$TMP/err")
check "... the down mirror is reported once for the job ($reports)" [ "$reports" -eq 1 ]
diag "$(grep 'mirror ' "$TMP/err" | head -3)"
conns() {
    python3 -c '
import json, sys
seen = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["server"] == sys.argv[2] and (r["server"] == "cdn" or "/resolve/" in r["path"]):
        seen.add(r["conn"])
print(len(seen))' "$FH_LOG" "$1"
}
hub=$(conns hub); cdn=$(conns cdn)
diag "connections for the files: hub $hub, cdn $cdn"
check "... the CDN served every file" \
    [ "$(count_log "r['server'] == 'cdn' and r['method'] == 'GET' and r['status'] in (200, 206)")" -ge $N ]
check "... connections to the hub reused across batches (<= 2)" [ "$hub" -le 2 ]
check "... connections to the CDN reused across batches (<= 2)" [ "$cdn" -le 2 ]
done_testing
