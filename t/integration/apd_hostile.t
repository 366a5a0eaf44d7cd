#!/bin/sh
# apd and hostile server text: an error message carrying ESC sequences and
# bytes that are not UTF-8 reaches SSE clients and GET /v1/jobs/ID as valid
# JSON (jansson's; invalid bytes become U+FFFD, controls \u001b), the event
# stream ends with its final event, and apd's own log stays terminal-safe.
# (3 and 4 failed before apd_jstr() repaired invalid UTF-8; 6 before logf_
# escaped controls.)
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 6
APD_PID=
stop_all() {
    stop_pids "$APD_PID"
    cleanup
}
trap stop_all EXIT INT TERM
C1=3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c

cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/api": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "x.txt": {"content": "x"}}}},
     "api_faults": {"status": 403, "status_headers": {
        "X-Error-Code": "\u001b]0;pwned\u0007Boom",
        "X-Error-Message": "\u001b[2Jcleared \u009b31m \u00ff"}}}
 }}
JSON
start_hub "$TMP/cfg.json"

HF_ENDPOINT="$HUB" "$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" \
    2> "$TMP/apd.err" &
APD_PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
check "apd starts" [ -s "$TMP/port" ]
URL="http://127.0.0.1:$(cat "$TMP/port")"

code=$(curl -s -m 10 -o "$TMP/sub" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' --data-binary '{"ref":"hf:org/api"}' "$URL/v1/jobs")
check "the job is accepted" [ "$code" = 202 ]
ID=$(json_get "$TMP/sub" 'j["job_id"]')
curl -s -N -m 30 "$URL/v1/jobs/$ID/events" > "$TMP/sse"
diag "$(tail -c 600 "$TMP/sse" | cat -v)"
check "every SSE data line is JSON and the stream ends with a final error event" python3 -c '
import json, sys
last = None
for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines():
    if l.startswith("data: "):
        last = json.loads(l[6:])
assert last and last["final"] and last["event"] == "error", last
assert "\x1b" in last["message"] and "\ufffd" in last["message"], last' "$TMP/sse"
code=$(curl -s -m 10 -o "$TMP/job" -w '%{http_code}' "$URL/v1/jobs/$ID")
diag "$(cat -v "$TMP/job")"
check "GET /v1/jobs/ID answers JSON naming the error" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["state"] == "failed" and "403" in j["error"], j' "$TMP/job"
check "GET /v1/jobs/ID is 200" [ "$code" = 200 ]
stop_pids "$APD_PID"; APD_PID=
# apd's own log: every line goes through one terminal-safe sink; here a
# message quoting an argument with ESC, BEL and a byte that is not UTF-8
"$AP_BUILD/apd" --listen "$(printf 'h\033]0;pwned\007\377'):1" --port-file "$TMP/port2" \
    2> "$TMP/apd2.err"
diag "$(cat -v "$TMP/apd2.err")"
check "apd's log is valid UTF-8 with no control byte, the argument escaped" python3 -c '
import sys, unicodedata
t = open(sys.argv[1], "rb").read().decode("utf-8")
assert "x1b" in t, t
assert not [c for c in t if unicodedata.category(c) == "Cc" and c not in "\n"], t' "$TMP/apd2.err"
done_testing
