#!/bin/sh
# Adaptive connections: against a server that caps each connection (the
# fake files server's throttle_bps, per request), the engine opens more than
# its 8 default connections while the total rate still grows.  Counted on
# the server side (distinct TCP connections in its log); never a speed.
# With --connections 8 (a fixed count) it stays at 8.  1 MB ranges (the
# probe range is the chunk size: it is not split once the size is known).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 4
SZ=16000000
gen_bytes $SZ 31 > "$TMP/w.bin"
H=$(sha256 "$TMP/w.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {"w.bin": {"generate": {"size": $SZ, "seed": 31},
                     "faults": {"throttle_bps": 1000000}}}}
JSON
start_hub "$TMP/cfg.json"
conns() { python3 -c '
import json, sys
print(len({r["conn"] for r in map(json.loads, open(sys.argv[1])) if r["path"] == "/files/w.bin"}))' "$FH_LOG"; }

"$APCTL" pull --quiet --chunk-size 1000000 "$FILES/files/w.bin#sha256=$H" > /dev/null 2> "$TMP/err"
check "the capped download succeeds" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
N=$(conns)
diag "connections opened by default: $N"
check "more than 8 connections were opened (server side: $N)" [ "$N" -gt 8 ]
check "... and no more than 16" [ "$N" -le 16 ]

rm -rf "$AP_HOME"; : > "$FH_LOG"
"$APCTL" pull --quiet --chunk-size 1000000 --connections 8 "$FILES/files/w.bin#sha256=$H" > /dev/null 2> "$TMP/err"
N=$(conns)
check "with --connections 8 (fixed), 8 at most ($N)" [ "$N" -le 8 ]
done_testing
