#!/bin/sh
# apd, the HTTP daemon over the job registry, against the fake files
# server, through its /v1 API with curl: submit, follow the SSE stream to
# the end, the job and its entry, the models, gc and verify; the same
# reference twice while running gives the running job; a cancel during a
# throttled download ends the stream with cancelled before the download
# could have finished, and the next pull resumes; heartbeats during a
# stall; errors (400 for a bad reference at submission, 404, 405, 409,
# 413); tidy numbers; SIGTERM.  docs/daemon.md.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 52
APD_PID=
stop_all() {
    stop_pids "$APD_PID"
    cleanup
}
trap stop_all EXIT INT TERM

gen_bytes 3000000 21 > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
gen_bytes 4000000 22 > "$TMP/slow.bin"
S=$(sha256 "$TMP/slow.bin")
gen_bytes 600000 23 > "$TMP/stall.bin"
ST=$(sha256 "$TMP/stall.bin")
gen_bytes 4000000 24 > "$TMP/slow2.bin"
S2=$(sha256 "$TMP/slow2.bin")
C1=5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c
# slow.bin: throttled (20 s for the whole file) until the cancel test is
# over, then not (the resumed pull): every request of the first pull is
# slow, whatever ranges the engine asks for and however loaded the machine
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/small": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
   "config.json": {"content": "{}"}}}}}},
 "files": {
  "a.bin":     {"generate": {"size": 3000000, "seed": 21}},
  "slow.bin":  {"generate": {"size": 4000000, "seed": 22},
                "faults": {"throttle_bps": 200000}},
  "slow2.bin": {"generate": {"size": 4000000, "seed": 24}, "faults": {"throttle_bps": 200000}},
  "stall.bin": {"generate": {"size": 600000, "seed": 23},
                "faults": {"stall_at": 300000, "stall_secs": 2, "times": 1}}
}}
JSON
start_hub "$TMP/cfg.json"

HF_ENDPOINT="$HUB" "$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" --heartbeat 200 \
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
sse() { curl -s -N -m 30 "$URL/v1/jobs/$1/events" > "$2"; }
# wait_for FILE PATTERN [TRIES]: until grep finds PATTERN (0.05 s per try)
wait_for() {
    _w=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        _w=$((_w + 1)); [ $_w -gt "${3:-200}" ] && return 1; sleep 0.05
    done
}
last_event() { grep '^event:' "$1" | tail -n 1; }
# untidy FILE: a number with more than 6 decimals (0.0040000000000000001)
untidy() { grep -Eq '[0-9]\.[0-9]{7,}' "$1"; }

check "GET /healthz answers ok" sh -c \
    "curl -s -m 5 '$URL/healthz' | grep -q '\"status\":\"ok\"'"
code=$(http GET /v1/models)
check "GET /v1/models of an empty catalog: 200, no models (under ASan: no overflow)" \
    [ "$code $(json_get "$TMP/body" 'j["models"]')" = "200 []" ]

# --- a job, followed to its end ---------------------------------------------
code=$(http POST /v1/jobs "{\"operation\": \"model_download\", \"ref\": \"$FILES/files/a.bin#sha256=$A\", \"include\": [], \"exclude\": []}")
check "POST /v1/jobs answers 202" [ "$code" = 202 ]
ID=$(json_get "$TMP/body" 'j["job_id"]')
check "  ... with a job id" [ "$ID" -ge 1 ]
sse "$ID" "$TMP/sse1"
check "the SSE stream ends with a done event" [ "$(last_event "$TMP/sse1")" = 'event: done' ]
check "  ... and every event carries the job id" sh -c \
    "[ \$(grep -c '^data:' '$TMP/sse1') -ge 2 ] && \
     [ \$(grep '^data:' '$TMP/sse1' | grep -vc '\"job\":$ID,') -eq 0 ]"
check "  ... with increasing ids" sh -c \
    "grep '^id:' '$TMP/sse1' | cut -d' ' -f2 | sort -n -c"
check "  ... and tidy numbers" sh -c "! grep -Eq '[0-9]\\.[0-9]{7,}' '$TMP/sse1'"
code=$(http GET "/v1/jobs/$ID")
check "GET /v1/jobs/N answers 200" [ "$code" = 200 ]
check "  ... state done, all bytes" [ "$(json_get "$TMP/body" 'j["state"]+" "+str(j["bytes_done"])')" = "done 3000000" ]
check "  ... tidy numbers" sh -c "! grep -Eq '[0-9]\\.[0-9]{7,}' '$TMP/body'"
EID=$(json_get "$TMP/body" 'j["entry_id"]')
p=$(json_get "$TMP/body" 'j["entry"]["files"][0]["path"]')
check "  ... its entry's file has the right bytes" [ "$(sha256 "$p")" = "$A" ]
code=$(http GET /v1/models)
ids=$(json_get "$TMP/body" '[e["id"] for e in j["models"]]')
check "GET /v1/models lists the entry" [ "$code $ids" = "200 ['$EID']" ]
code=$(http GET "/v1/models/$EID")
check "GET /v1/models/ID gives it, ready" [ "$code $(json_get "$TMP/body" 'j["status"]')" = "200 ready" ]
code=$(http GET /v1/jobs)
check "GET /v1/jobs lists the job" [ "$code $(json_get "$TMP/body" '[x["job_id"] for x in j["jobs"]]')" = "200 [$ID]" ]
code=$(http POST "/v1/jobs/$ID/cancel" '{}')
check "cancelling a finished job: 409" sh -c "[ $code = 409 ] && grep -q 'already ended' '$TMP/body'"
code=$(http POST /v1/verify '{}')
check "POST /v1/verify checks the blobs: none corrupt" \
    [ "$code $(json_get "$TMP/body" 'j["corrupt"]')" = "200 0" ]
code=$(http POST /v1/gc '{}')
check "POST /v1/gc keeps the blob of the entry" sh -c \
    "[ $code = 200 ] && sha256sum '$p' | grep -q $A"

# "options" are the request's vendor options
code=$(http POST /v1/jobs "{\"ref\": \"hf:org/small\", \"options\": {\"hf_cache_publish\": \"$TMP/hfc\"}}")
OID=$(json_get "$TMP/body" 'j["job_id"]')
sse "$OID" "$TMP/sse_o"
check "\"options\" reach the vendor: hf_cache_publish lays the repo out in the directory" sh -c \
    "[ $code = 202 ] && [ \"\$(grep '^event:' '$TMP/sse_o' | tail -n 1)\" = 'event: done' ] && \
     [ -f '$TMP/hfc/models--org--small/snapshots/$C1/config.json' ]"

# --- cancel a throttled job; the next pull resumes ------------------------------
REF="$FILES/files/slow.bin#sha256=$S"
http POST /v1/jobs "{\"ref\": \"$REF\", \"connections\": 1}" > /dev/null
SID=$(json_get "$TMP/body" 'j["job_id"]')
code=$(http POST /v1/jobs "{\"ref\": \"$REF\"}")
check "the same reference while running: the running job" \
    [ "$code $(json_get "$TMP/body" 'j["job_id"], j["existing"]')" = "200 ($SID, True)" ]
sse "$SID" "$TMP/sse2" &
SSE_PID=$!
wait_for "$TMP/sse2" '"bytes_done":[1-9]'
check "the throttled job is under way" [ $? -eq 0 ]
t0=$(date +%s%N)
code=$(http POST "/v1/jobs/$SID/cancel" '')
check "POST /v1/jobs/N/cancel answers 202" [ "$code" = 202 ]
[ "$code" = 202 ] || diag "cancel: HTTP $code $(cat "$TMP/body")" >&2
wait "$SSE_PID"
diag "cancel to the end of the event stream: $(( ($(date +%s%N) - t0) / 1000000 )) ms (measured, not asserted)"
# at 200 kB/s the 4 MB take 20 s: the stream ending with cancelled and a
# byte count short of the total shows the cancel arrived first
check "the stream ends with cancelled, before the download could finish" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse2' | tail -n 1)\" = 'event: cancelled' ] && \
     grep '^data:' '$TMP/sse2' | tail -n 1 | grep -q '\"final\":true' && \
     [ \$(grep '^data:' '$TMP/sse2' | tail -n 1 | sed 's/.*\"bytes_done\":\\([0-9]*\\).*/\\1/') -lt 4000000 ]"
http GET "/v1/jobs/$SID" > /dev/null
check "  ... and the job's state is cancelled" [ "$(json_get "$TMP/body" 'j["state"]')" = cancelled ]
hub_drop_faults "$TMP/cfg.json" slow.bin || echo "Bail out! the fake hub did not take the new config"
http POST /v1/jobs "{\"ref\": \"$REF\", \"connections\": 1}" > /dev/null
RID=$(json_get "$TMP/body" 'j["job_id"]')
sse "$RID" "$TMP/sse2b"
http GET "/v1/jobs/$RID" > /dev/null
diag "resumed: $(json_get "$TMP/body" '(j["state"], j["fetched_bytes"], j["bytes_total"])')"
check "the next pull resumes: done, fetched fewer bytes than the total" \
    json_get "$TMP/body" 'exit(0 if j["state"] == "done" and 0 < j["fetched_bytes"] < j["bytes_total"] == 4000000 else 1)'

# a queued-or-running job cancelled at once also ends with cancelled
http POST /v1/jobs "{\"ref\": \"$FILES/files/slow2.bin#sha256=$S2\", \"connections\": 1}" > /dev/null
CID=$(json_get "$TMP/body" 'j["job_id"]')
code=$(http POST "/v1/jobs/$CID/cancel" '')
sse "$CID" "$TMP/sse3"
check "POST /v1/jobs/N/cancel at once cancels" sh -c \
    "[ $code = 202 ] && [ \"\$(grep '^event:' '$TMP/sse3' | tail -n 1)\" = 'event: cancelled' ]"

# --- heartbeats while the transfer stalls ----------------------------------------
http POST /v1/jobs "{\"ref\": \"$FILES/files/stall.bin#sha256=$ST\", \"connections\": 1}" > /dev/null
HID=$(json_get "$TMP/body" 'j["job_id"]')
sse "$HID" "$TMP/sse4"
check "a stalled job streams heartbeats with its id, then done" sh -c \
    "[ \$(grep -A1 '^event: heartbeat' '$TMP/sse4' | grep -c '\"job\":$HID,') -ge 4 ] && \
     [ \"\$(grep '^event:' '$TMP/sse4' | tail -n 1)\" = 'event: done' ]"

# --- errors ------------------------------------------------------------------
code=$(http POST /v1/jobs '{"ref": ')
err=$(json_get "$TMP/body" 'j["error"]')
check "bad JSON: 400 with a JSON error" sh -c "[ $code = 400 ] && echo '$err' | grep -qi json"
code=$(http POST /v1/jobs '{"include": ["*.gguf"]}')
check "missing ref: 400" [ "$code" = 400 ]
code=$(http POST /v1/jobs '{"ref": "x:y", "inclde": []}')
check "unknown member: 400 naming it" sh -c "[ $code = 400 ] && grep -q inclde '$TMP/body'"
code=$(http POST /v1/jobs '{"ref": "x:y", "operation": "model_upload"}')
check "an unknown operation: 400" [ "$code" = 400 ]
code=$(http POST /v1/jobs '[1, 2]')
check "a body that is not an object: 400" [ "$code" = 400 ]
code=$(http POST /v1/jobs '{"ref": "nope:thing"}')
check "a reference no vendor serves: 400 at submission, naming the grammar" sh -c \
    "[ $code = 400 ] && grep -q nope '$TMP/body' && grep -q 'hf:' '$TMP/body'"
code=$(http POST /v1/jobs '{"ref": "no reference"}')
check "a malformed reference: 400 at submission" [ "$code" = 400 ]
NJOBS=$(curl -s "$URL/v1/jobs" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))')
code=$(http POST /v1/jobs '{"ref": "hf:org"}')
check "a reference its vendor finds malformed (hf:org, no repository name): 400 at submission, no job" sh -c \
    "[ $code = 400 ] && grep -q 'bad huggingface reference' '$TMP/body' && \
     [ \$(curl -s '$URL/v1/jobs' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"jobs\"]))') = $NJOBS ]"
code=$(http POST /v1/jobs '{"ref": "https://h/m#sha256=12"}')
check "... and https://h/m#sha256=12 (a short digest): 400" sh -c \
    "[ $code = 400 ] && grep -q 'bad fragment' '$TMP/body'"
code=$(http POST /v1/jobs '{"ref": "hf:org/x", "options": {"env:HF_TOKEN": "t"}}')
check "an env: option from the network: 400 naming it" sh -c \
    "[ $code = 400 ] && grep -q 'env:HF_TOKEN' '$TMP/body'"
code=$(http GET /v1/jobs/999)
check "unknown job: 404 with a JSON error" sh -c \
    "[ $code = 404 ] && [ -n \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"error\"])' '$TMP/body')\" ]"
check "cancel and events of an unknown job: 404" sh -c \
    "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' '$URL/v1/jobs/999/cancel') = 404 ] && \
     [ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/v1/jobs/999/events') = 404 ]"
code=$(http GET /v1/jobs/abc)
check "a job id that is not a number: 404" [ "$code" = 404 ]
code=$(http GET /nowhere)
check "unknown path: 404" [ "$code" = 404 ]
code=$(http PUT /v1/jobs '{}')
check "wrong method: 405" [ "$code" = 405 ]
python3 -c 'print("{\"ref\": \"" + "x" * 70000 + "\"}")' > "$TMP/big.json"
code=$(curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$TMP/big.json" "$URL/v1/jobs")
check "an oversized body: 413" [ "$code" = 413 ]
code=$(http GET /v1/models/nothing-here)
check "an unknown model: 404" [ "$code" = 404 ]
code=$(http POST /v1/jobs "{\"ref\": \"$FILES/files/missing.bin\"}")
NID=$(json_get "$TMP/body" 'j["job_id"]')
sse "$NID" "$TMP/sse5"
http GET "/v1/jobs/$NID" > /dev/null
st=$(json_get "$TMP/body" 'j["state"]')
check "a missing file: the job fails, with its error" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse5' | tail -n 1)\" = 'event: error' ] && \
     [ '$st' = failed ] && grep -q missing.bin '$TMP/body'"
check "... its error event has \"level\": \"error\"" sh -c \
    "grep '^data:' '$TMP/sse5' | tail -n 1 | grep -q '\"level\": *\"error\"'"
code=$(http POST /v1/jobs/987654/cancel '')
check "cancelling an unknown job: 404 naming the job and the cause" sh -c \
    "[ $code = 404 ] && grep -q 'job 987654' '$TMP/body' && grep -q 'no such job' '$TMP/body'"
code=$(http DELETE "/v1/models/$EID" '')
check "DELETE /v1/models/ID removes the entry" sh -c \
    "[ $code = 200 ] && [ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/v1/models/$EID') = 404 ]"

# --- SIGTERM: running job cancelled, its stream ends, exit 0 promptly ----------
http POST /v1/jobs "{\"ref\": \"$FILES/files/slow2.bin#sha256=$S2\", \"connections\": 1, \"force\": true}" > /dev/null
TID=$(json_get "$TMP/body" 'j["job_id"]')
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
check "SIGTERM: apd exits 0" [ $rc -eq 0 ]
wait "$SSE_PID"
check "  ... after the running job's stream said cancelled" sh -c \
    "[ \"\$(grep '^event:' '$TMP/sse6' | tail -n 1)\" = 'event: cancelled' ]"
check "apd logged one line per request, with method, path, status and duration" \
    grep -Eq '^apd: GET /v1/jobs/[0-9]+ 200 [0-9]+ ms$' "$TMP/apd.err"
# on a failure apd's log goes to stderr too, so a quiet `make check` shows it
[ "$_fail" -eq 0 ] || diag "$(cat "$TMP/apd.err")" | tee /dev/stderr
done_testing
