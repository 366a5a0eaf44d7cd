#!/bin/sh
# apd, the HTTP daemon over the job registry, against the fake files server:
# submit, follow the SSE stream to the end, read the entry and the bytes,
# cancel a throttled job, heartbeats during a stall, errors, SIGTERM.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 34
APD_PID=
stop_all() {
    [ -n "$APD_PID" ] && kill "$APD_PID" 2>/dev/null && wait "$APD_PID" 2>/dev/null
    cleanup
}
trap stop_all EXIT INT TERM

gen_bytes 3000000 21 > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
gen_bytes 4000000 22 > "$TMP/slow.bin"
S=$(sha256 "$TMP/slow.bin")
gen_bytes 600000 23 > "$TMP/stall.bin"
ST=$(sha256 "$TMP/stall.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "a.bin":     {"generate": {"size": 3000000, "seed": 21}},
  "slow.bin":  {"generate": {"size": 4000000, "seed": 22}, "faults": {"throttle_bps": 200000}},
  "slow2.bin": {"generate": {"size": 4000000, "seed": 22}, "faults": {"throttle_bps": 200000}},
  "stall.bin": {"generate": {"size": 600000, "seed": 23},
                "faults": {"stall_at": 300000, "stall_secs": 2, "times": 1}}
}}
JSON
start_hub "$TMP/cfg.json"

"$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" --heartbeat 200 \
    2> "$TMP/apd.err" &
APD_PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
check "apd starts and writes the port it chose" [ -s "$TMP/port" ]
URL="http://127.0.0.1:$(cat "$TMP/port")"

# http METHOD PATH [BODY]: body to $TMP/body, status code on stdout
http() {
    if [ $# -ge 3 ]; then
        curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X "$1" \
            -H 'Content-Type: application/json' --data-binary "$3" "$URL$2"
    else
        curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X "$1" "$URL$2"
    fi
}
# sse ID FILE: follow the event stream of job ID into FILE (to its end)
sse() { curl -s -N -m 30 "$URL/jobs/$1/events" > "$2"; }
# wait_for FILE PATTERN [TRIES]: until grep finds PATTERN (0.05 s per try)
wait_for() {
    _w=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        _w=$((_w + 1)); [ $_w -gt "${3:-200}" ] && return 1; sleep 0.05
    done
}

check "GET /healthz answers ok" sh -c "[ \"\$(curl -s -m 5 '$URL/healthz')\" != '' ] && \
    curl -s -m 5 '$URL/healthz' | grep -q '\"status\":\"ok\"'"

# --- a job, followed to its end ---------------------------------------------
code=$(http POST /jobs "{\"ref\": \"$FILES/files/a.bin#sha256=$A\"}")
check "POST /jobs answers 202" [ "$code" = 202 ]
ID=$(json_get "$TMP/body" 'j["id"]')
check "  ... with a job id" [ "$ID" -ge 1 ]
sse "$ID" "$TMP/sse1"
check "the SSE stream ends with a done event" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse1' | tail -n 1)\" = 'event: done' ]"
check "  ... and every event carries the job id" sh -c \
    "[ \$(grep -c '^data:' '$TMP/sse1') -ge 2 ] && \
     [ \$(grep '^data:' '$TMP/sse1' | grep -vc '\"job\":$ID,') -eq 0 ]"
check "  ... with increasing ids" sh -c \
    "grep '^id:' '$TMP/sse1' | cut -d' ' -f2 | sort -n -c"
code=$(http GET "/jobs/$ID")
check "GET /jobs/N answers 200" [ "$code" = 200 ]
check "  ... state done, all bytes" [ "$(json_get "$TMP/body" 'j["state"]+" "+str(j["bytes_done"])')" = "done 3000000" ]
EID=$(json_get "$TMP/body" 'j["entry_id"]')
p=$(json_get "$TMP/body" 'j["entry"]["files"][0]["path"]')
check "  ... its entry's file has the right bytes" [ "$(sha256 "$p")" = "$A" ]
code=$(http GET /entries)
ids=$(json_get "$TMP/body" '[e["id"] for e in j["entries"]]')
check "GET /entries lists the entry" [ "$code $ids" = "200 ['$EID']" ]
code=$(http GET "/entries/$EID")
check "GET /entries/ID gives it, ready" [ "$code $(json_get "$TMP/body" 'j["status"]')" = "200 ready" ]
code=$(http GET /jobs)
check "GET /jobs lists the job" [ "$code $(json_get "$TMP/body" '[x["id"] for x in j["jobs"]]')" = "200 [$ID]" ]

# --- cancel a throttled job with DELETE ---------------------------------------
http POST /jobs "{\"ref\": \"$FILES/files/slow.bin#sha256=$S\", \"connections\": 1}" > /dev/null
SID=$(json_get "$TMP/body" 'j["id"]')
sse "$SID" "$TMP/sse2" &
SSE_PID=$!
wait_for "$TMP/sse2" '"bytes_done":[1-9]'
check "the throttled job is under way" [ $? -eq 0 ]
t0=$(date +%s%N)
code=$(http DELETE "/jobs/$SID")
check "DELETE /jobs/N answers 202" [ "$code" = 202 ]
wait "$SSE_PID"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
diag "cancel to end of stream: $ms ms"
check "the stream ends with cancelled, promptly" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse2' | tail -n 1)\" = 'event: cancelled' ] && [ $ms -lt 2000 ]"
http GET "/jobs/$SID" > /dev/null
check "  ... and the job's state is cancelled" [ "$(json_get "$TMP/body" 'j["state"]')" = cancelled ]

# POST /jobs/N/cancel does the same
http POST /jobs "{\"ref\": \"$FILES/files/slow2.bin#sha256=$S\", \"connections\": 1}" > /dev/null
CID=$(json_get "$TMP/body" 'j["id"]')
code=$(http POST "/jobs/$CID/cancel" '')
sse "$CID" "$TMP/sse3"
check "POST /jobs/N/cancel cancels" sh -c \
    "[ $code = 202 ] && [ \"\$(grep '^event:' '$TMP/sse3' | tail -n 1)\" = 'event: cancelled' ]"

# --- heartbeats while the transfer stalls ----------------------------------------
http POST /jobs "{\"ref\": \"$FILES/files/stall.bin#sha256=$ST\", \"connections\": 1}" > /dev/null
HID=$(json_get "$TMP/body" 'j["id"]')
sse "$HID" "$TMP/sse4"
check "a stalled job streams heartbeats with its id, then done" sh -c \
    "[ \$(grep -A1 '^event: heartbeat' '$TMP/sse4' | grep -c '\"job\":$HID,') -ge 4 ] && \
     [ \"\$(grep '^event:' '$TMP/sse4' | tail -n 1)\" = 'event: done' ]"

# --- errors ------------------------------------------------------------------
code=$(http POST /jobs '{"ref": ')
err=$(json_get "$TMP/body" 'j["error"]')
check "bad JSON: 400 with a JSON error" sh -c "[ $code = 400 ] && echo '$err' | grep -qi json"
code=$(http POST /jobs '{"include": ["*.gguf"]}')
check "missing ref: 400" [ "$code" = 400 ]
code=$(http POST /jobs '{"ref": "x:y", "inclde": []}')
check "unknown member: 400 naming it" sh -c "[ $code = 400 ] && grep -q inclde '$TMP/body'"
code=$(http POST /jobs '[1, 2]')
check "a body that is not an object: 400" [ "$code" = 400 ]
code=$(http GET /jobs/999)
check "unknown job: 404 with a JSON error" sh -c \
    "[ $code = 404 ] && [ -n \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"error\"])' '$TMP/body')\" ]"
check "DELETE and events of an unknown job: 404" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$URL/jobs/999') = 404 ] && \
     [ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/jobs/999/events') = 404 ]"
code=$(http GET /jobs/abc)
check "a job id that is not a number: 404" [ "$code" = 404 ]
code=$(http GET /nowhere)
check "unknown path: 404" [ "$code" = 404 ]
code=$(http PUT /jobs '{}')
check "wrong method: 405" [ "$code" = 405 ]
python3 -c 'print("{\"ref\": \"" + "x" * 70000 + "\"}")' > "$TMP/big.json"
code=$(curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X POST --data-binary @"$TMP/big.json" "$URL/jobs")
check "an oversized body: 413" [ "$code" = 413 ]
code=$(http POST /jobs "{\"ref\": \"nope:thing\"}")
NID=$(json_get "$TMP/body" 'j["id"]')
sse "$NID" "$TMP/sse5"
http GET "/jobs/$NID" > /dev/null
st=$(json_get "$TMP/body" 'j["state"]')
check "an unknown scheme: the job fails, with its error" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse5' | tail -n 1)\" = 'event: error' ] && \
     [ '$st' = failed ] && grep -q nope '$TMP/body'"
check "... its error event has \"level\": \"error\"" sh -c \
    "grep '^data:' '$TMP/sse5' | tail -n 1 | grep -q '\"level\": *\"error\"'"
code=$(http DELETE /jobs/987654)
check "cancelling an unknown job: 404 naming the job and the cause" sh -c \
    "[ $code = 404 ] && grep -q 'job 987654' '$TMP/body' && grep -q 'no such job' '$TMP/body'"

# --- SIGTERM: running job cancelled, its stream ends, exit 0 promptly ----------
http POST /jobs "{\"ref\": \"$FILES/files/slow.bin#sha256=$S\", \"connections\": 1, \"force\": true}" > /dev/null
TID=$(json_get "$TMP/body" 'j["id"]')
sse "$TID" "$TMP/sse6" &
SSE_PID=$!
wait_for "$TMP/sse6" '"bytes_done":[1-9]'
t0=$(date +%s%N)
kill -TERM "$APD_PID"
wait "$APD_PID"
rc=$?
t1=$(date +%s%N)
APD_PID=
ms=$(( (t1 - t0) / 1000000 ))
diag "SIGTERM to exit: $ms ms"
check "SIGTERM: apd exits 0 within 2 s" sh -c "[ $rc -eq 0 ] && [ $ms -lt 2000 ]"
wait "$SSE_PID"
check "  ... after the running job's stream said cancelled" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse6' | tail -n 1)\" = 'event: cancelled' ]"
[ "$_fail" -eq 0 ] || diag "$(cat "$TMP/apd.err")"
done_testing
