#!/bin/sh
# Adaptive connections: against a server that caps each connection (the
# fake files server's throttle_bps, per request), the engine opens more than
# its 8 default connections while the total rate still grows.  Counted on
# the server side (distinct TCP connections in its log); never a speed.
# With --connections 8 (a fixed count) it stays at 8.  1 MB ranges.  With
# the default chunk (8 MiB) the probe asks for 8 MiB before the size is
# known; once the size is known (16 MB: ranges of 1 MiB) its body stops at
# 1 MiB and the rest goes to the other connections (before, it fetched its
# 8 MiB alone, half the file on one capped connection).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 6
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

rm -rf "$AP_HOME"; : > "$FH_LOG"
"$APCTL" pull --quiet "$FILES/files/w.bin#sha256=$H" > /dev/null 2> "$TMP/err"
check "default chunk size: the capped download succeeds" [ $? -eq 0 ]
PROBE=$(python3 -c '
import json, sys
print(max([r["bytes"] for r in map(json.loads, open(sys.argv[1]))
           if r["headers"].get("range") == "bytes=0-8388607"] or [-1]))' "$FH_LOG")
diag "the probe (bytes=0-8388607) was served $PROBE bytes"
check "... the probe stopped near 1 MiB once the size was known ($PROBE)" \
    [ "$PROBE" -ge 0 -a "$PROBE" -lt 2097152 ]
done_testing
