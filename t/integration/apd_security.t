#!/bin/sh
# apd is safe by default: a Host header that is not the bound address (DNS
# rebinding) and cross-origin browser requests are refused before anything
# happens; state-changing requests need Content-Type: application/json;
# --token-file requires a bearer token; clients that stall (headers never
# finished, a stream never read) block neither other requests nor the
# stop; a FIFO in the catalog wedges nothing.  docs/daemon.md.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 22
APD_PID=
HOLD_PID=
P2_PID=
stop_all() {
    stop_pids "$HOLD_PID" "$APD_PID" "$P2_PID"
    cleanup
}
trap stop_all EXIT INT TERM

cat > "$TMP/cfg.json" <<JSON
{"files": {"slow.bin": {"generate": {"size": 4000000, "seed": 41},
                        "faults": {"throttle_bps": 200000}}}}
JSON
start_hub "$TMP/cfg.json"

start_apd() {
    rm -f "$TMP/port"
    "$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" "$@" 2>> "$TMP/apd.err" &
    APD_PID=$!
    _i=0
    while [ ! -s "$TMP/port" ] && [ $_i -lt 250 ]; do sleep 0.02; _i=$((_i + 1)); done
    PORT=$(cat "$TMP/port")
    URL="http://127.0.0.1:$PORT"
}
# code ARGS...: curl's status code (body in $TMP/body)
code() { curl -s -m 10 -o "$TMP/body" -w '%{http_code}' "$@"; }
JOB='{"ref": "'"$FILES"'/files/slow.bin"}'
njobs() { curl -s -m 10 "$URL/v1/jobs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }

start_apd
check "apd starts" [ -s "$TMP/port" ]
c=$(code -X POST -H "Host: attacker.example:$PORT" -H 'Content-Type: application/json' \
    -d "$JOB" "$URL/v1/jobs")
check "a foreign Host (DNS rebinding): 421, naming it" sh -c \
    "[ $c = 421 ] && grep -q attacker.example '$TMP/body'"
c=$(code -H "Host: 127.0.0.1:1" "$URL/healthz")
check "  ... the right address with another port: 421" [ "$c" = 421 ]
c=$(code -H "Host: localhost:$PORT" "$URL/healthz")
check "  ... localhost with the port, on loopback: accepted" [ "$c" = 200 ]
stop_pids "$APD_PID"; APD_PID=
start_apd_at() {
    rm -f "$TMP/port2"
    "$AP_BUILD/apd" --listen "$1" --port-file "$TMP/port2" 2>> "$TMP/apd.err" &
    P2_PID=$!
    _i=0
    while [ ! -s "$TMP/port2" ] && [ $_i -lt 250 ]; do sleep 0.02; _i=$((_i + 1)); done
    P2=$(cat "$TMP/port2")
}
start_apd_at localhost:0
check "bound by name to localhost: Host localhost accepted, another name not" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' http://localhost:$P2/healthz) = 200 ] && \
     [ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: localhost.evil.example:$P2' http://localhost:$P2/healthz) = 421 ]"
stop_pids "$P2_PID"; P2_PID=
start_apd
c=$(code -X POST -H 'Origin: http://evil.example' -H 'Content-Type: application/json' \
    -d "$JOB" "$URL/v1/jobs")
check "a cross-origin POST: 403" [ "$c" = 403 ]
c=$(code -X POST -H 'Sec-Fetch-Site: cross-site' -H 'Content-Type: application/json' \
    -d "$JOB" "$URL/v1/jobs")
check "  ... also when only Sec-Fetch-Site tells: 403" [ "$c" = 403 ]
c=$(code -X POST -H 'Content-Type: text/plain' -d "$JOB" "$URL/v1/jobs")
check "a POST as text/plain (a simple cross-origin request): 415" [ "$c" = 415 ]
c=$(code -X POST -d "$JOB" "$URL/v1/jobs")
check "  ... as a form: 415" [ "$c" = 415 ]
c=$(code -X DELETE "$URL/v1/models/x")
check "  ... a DELETE without JSON: 415" [ "$c" = 415 ]
check "no request refused above made a job" [ "$(njobs)" = 0 ]
c=$(code -X POST -H "Origin: http://127.0.0.1:$PORT" \
    -H 'Content-Type: application/json; charset=utf-8' -d "$JOB" "$URL/v1/jobs")
check "a same-origin POST as JSON: 202" [ "$c" = 202 ]

# stalled clients: five connections that never finish their headers, one
# event stream that is never read
python3 - "$PORT" "$TMP/held" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(5):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port)
    held.append(s)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /v1/jobs/1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
held.append(s)
open(sys.argv[2], "w").write("holding\n")
time.sleep(120)
PY
HOLD_PID=$!
i=0
while [ ! -s "$TMP/held" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
c=$(code "$URL/healthz")
check "with stalled clients, other requests are answered" [ "$c" = 200 ]
c=$(code "$URL/v1/jobs/1")
check "  ... GET /v1/jobs/1 too" [ "$c" = 200 ]

mkfifo "$AP_HOME/catalog/wedge.json"
c=$(code "$URL/v1/models")
check "a FIFO in the catalog: GET /v1/models still answers" [ "$c" = 200 ]
c=$(code "$URL/api/tags")
check "  ... and GET /api/tags" [ "$c" = 200 ]
kill -TERM "$APD_PID"
i=0
while kill -0 "$APD_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
check "SIGTERM with stalled clients: apd stops" sh -c "! kill -0 $APD_PID 2>/dev/null"
wait "$APD_PID"
check "  ... with exit status 0" [ $? -eq 0 ]
APD_PID=
stop_pids "$HOLD_PID"; HOLD_PID=
rm -f "$AP_HOME/catalog/wedge.json"

# --- bearer token ---------------------------------------------------------------
printf 'short\n' > "$TMP/short"
"$AP_BUILD/apd" --listen 127.0.0.1:0 --token-file "$TMP/short" 2> "$TMP/short.err"
check "a token shorter than 16 characters: apd refuses to start" sh -c \
    "[ $? -eq 1 ] && grep -q '16 characters' '$TMP/short.err'"
TOKEN=0123456789abcdef-secret
printf '%s\n' "$TOKEN" > "$TMP/token"
start_apd --token-file "$TMP/token"
check "with --token-file: no token, 401; a wrong one, 401; /healthz open" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/v1/jobs') = 401 ] && \
     [ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer 0123456789abcdef-secreT' '$URL/v1/jobs') = 401 ] && \
     [ \$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN-and-more' '$URL/v1/jobs') = 401 ] && \
     [ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/healthz') = 200 ]"
check "  ... the right token: 200" \
    [ "$(code -H "Authorization: Bearer $TOKEN" "$URL/v1/jobs")" = 200 ]
check "the token never appears in apd's log" sh -c "! grep -q '$TOKEN' '$TMP/apd.err'"
[ "$_fail" -eq 0 ] || diag "$(tail -n 40 "$TMP/apd.err")"
done_testing
