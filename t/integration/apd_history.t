#!/bin/sh
# apd's job history survives a restart: a done job (with its entry), a
# failed one (with its error) and the job that was running when apd
# stopped (SIGTERM, then SIGKILL) are listed after the restart, the last
# as interrupted; resuming it finishes the download fetching fewer bytes
# than the total (the staging data kept); new ids never reuse old ones; a
# done job cannot be resumed (409).  --history N keeps the last N finished
# jobs: a restart prunes the older ones, each job that ends prunes again,
# in GET /v1/jobs and in the state directory.  docs/daemon.md.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 19
APD_PID=
stop_all() {
    stop_pids "$APD_PID"
    cleanup
}
trap stop_all EXIT INT TERM

gen_bytes 100000 31 > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
gen_bytes 4000000 32 > "$TMP/slow.bin"
S=$(sha256 "$TMP/slow.bin")
gen_bytes 4000000 33 > "$TMP/slow2.bin"
S2=$(sha256 "$TMP/slow2.bin")
# each slow file is throttled (20 s for the file) until its job has been
# interrupted, then not (the resumed pulls): every request of the first
# pull is slow, whatever ranges the engine asks for and however loaded the
# machine
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "a.bin":     {"generate": {"size": 100000, "seed": 31}},
  "slow.bin":  {"generate": {"size": 4000000, "seed": 32},
                "faults": {"throttle_bps": 200000}},
  "slow2.bin": {"generate": {"size": 4000000, "seed": 33},
                "faults": {"throttle_bps": 200000}}
}}
JSON
start_hub "$TMP/cfg.json"

start_apd() {
    rm -f "$TMP/port"
    "$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" "$@" 2>> "$TMP/apd.err" &
    APD_PID=$!
    _i=0
    while [ ! -s "$TMP/port" ] && [ $_i -lt 250 ]; do sleep 0.02; _i=$((_i + 1)); done
    URL="http://127.0.0.1:$(cat "$TMP/port")"
}
http() {
    curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' --data-binary "${3:-}" "$URL$2"
}
sse() { curl -s -N -m 30 "$URL/v1/jobs/$1/events" > "$2"; }
wait_for() {
    _w=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        _w=$((_w + 1)); [ $_w -gt 200 ] && return 1; sleep 0.05
    done
}
# jobs_view: "ID:STATE ..." of GET /v1/jobs
jobs_view() {
    http GET /v1/jobs > /dev/null
    json_get "$TMP/body" '" ".join("%d:%s" % (x["job_id"], x["state"]) for x in j["jobs"])'
}

start_apd
check "apd starts" [ -s "$TMP/port" ]
http POST /v1/jobs "{\"ref\": \"$FILES/files/a.bin#sha256=$A\"}" > /dev/null
DONE=$(json_get "$TMP/body" 'j["job_id"]')
sse "$DONE" "$TMP/s1"
http POST /v1/jobs "{\"ref\": \"$FILES/files/missing.bin\"}" > /dev/null
FAILED=$(json_get "$TMP/body" 'j["job_id"]')
sse "$FAILED" "$TMP/s2"
http POST /v1/jobs "{\"ref\": \"$FILES/files/slow.bin#sha256=$S\", \"connections\": 1}" > /dev/null
RUN=$(json_get "$TMP/body" 'j["job_id"]')
sse "$RUN" "$TMP/s3" &
SSE_PID=$!
wait_for "$TMP/s3" '"bytes_done":[1-9]'
check "three jobs: done, failed, running" [ "$(jobs_view)" = "$DONE:done $FAILED:failed $RUN:running" ]
kill -TERM "$APD_PID"
wait "$APD_PID"
check "SIGTERM with a job running: apd exits 0" [ $? -eq 0 ]
APD_PID=
wait "$SSE_PID"

start_apd
check "after the restart the history is there, the running job interrupted" \
    [ "$(jobs_view)" = "$DONE:done $FAILED:failed $RUN:interrupted" ]
http GET "/v1/jobs/$DONE" > /dev/null
check "  ... the done job with its entry and its bytes" \
    json_get "$TMP/body" "exit(0 if j['entry']['files'][0]['sha256'] == '$A' and j['bytes_done'] == 100000 else 1)"
http GET "/v1/jobs/$FAILED" > /dev/null
check "  ... the failed job with its error" json_get "$TMP/body" \
    'exit(0 if "missing.bin" in j["error"] and j["status"] < 0 else 1)'
http GET "/v1/jobs/$RUN" > /dev/null
check "  ... the interrupted job with its progress and how to resume it" json_get "$TMP/body" \
    'exit(0 if 0 < j["bytes_done"] < 4000000 and "resume" in j["error"] else 1)'
code=$(http POST "/v1/jobs/$DONE/resume" '')
check "a done job cannot be resumed: 409" [ "$code" = 409 ]
hub_drop_faults "$TMP/cfg.json" slow.bin || echo "Bail out! the fake hub did not take the new config"
code=$(http POST "/v1/jobs/$RUN/resume" '')
NEW=$(json_get "$TMP/body" 'j["job_id"]')
check "resuming the interrupted job: 202, a new id past the old ones" \
    sh -c "[ $code = 202 ] && [ $NEW -gt $RUN ]"
sse "$NEW" "$TMP/s4"
http GET "/v1/jobs/$NEW" > /dev/null
diag "resumed: $(json_get "$TMP/body" '(j["state"], j["fetched_bytes"], j["bytes_total"])')"
check "  ... it finishes, fetching fewer bytes than the total" json_get "$TMP/body" \
    "exit(0 if j['state'] == 'done' and 0 < j['fetched_bytes'] < j['bytes_total'] == 4000000 and j['ref'].endswith('$S') else 1)"

# a crash (SIGKILL) while a job runs: interrupted too
http POST /v1/jobs "{\"ref\": \"$FILES/files/slow2.bin#sha256=$S2\", \"connections\": 1}" > /dev/null
K=$(json_get "$TMP/body" 'j["job_id"]')
sse "$K" "$TMP/s5" &
SSE_PID=$!
wait_for "$TMP/s5" '"bytes_done":[1-9]'
kill -KILL "$APD_PID"
wait "$APD_PID" 2>/dev/null
APD_PID=
wait "$SSE_PID"
start_apd
http GET "/v1/jobs/$K" > /dev/null
check "after a SIGKILL the running job is interrupted" \
    [ "$(json_get "$TMP/body" 'j["state"]')" = interrupted ]
hub_drop_faults "$TMP/cfg.json" slow2.bin || echo "Bail out! the fake hub did not take the new config"
code=$(http POST "/v1/jobs/$K/resume" '')
K2=$(json_get "$TMP/body" 'j["job_id"]')
sse "$K2" "$TMP/s6"
http GET "/v1/jobs/$K2" > /dev/null
check "  ... and resumes to done, fetching fewer bytes than the total" json_get "$TMP/body" \
    "exit(0 if j['state'] == 'done' and 0 < j['fetched_bytes'] < 4000000 else 1)"
check "the history is one document per job, not readable by others" sh -c \
    "[ \$(ls '$AP_HOME/apd-jobs' | wc -l) -eq 6 ] && \
     [ \$(stat -c %a '$AP_HOME/apd-jobs/$K.json') = 600 ]"
check "apd logged the job state changes" sh -c \
    "grep -q 'apd: job $RUN running' '$TMP/apd.err' && grep -q 'apd: job $RUN interrupted' '$TMP/apd.err' && \
     grep -q 'apd: job $K: interrupted by the last stop' '$TMP/apd.err'"
check "  ... and one line per request" \
    grep -Eq "^apd: POST /v1/jobs/$RUN/resume 202 [0-9]+ ms$" "$TMP/apd.err"

# --history 3: the restart keeps the last three finished jobs, each new
# job that ends pushes the oldest out, from the list and from the disk
kill "$APD_PID"
wait "$APD_PID"
start_apd --history 3
check "--history 3: after a restart, the last three finished jobs only" \
    [ "$(jobs_view)" = "$NEW:done $K:interrupted $K2:done" ]
check "  ... and their three documents only" \
    [ "$(cd "$AP_HOME/apd-jobs" && ls | sort -n | tr '\n' ' ')" = "$NEW.json $K.json $K2.json " ]
for n in 1 2; do
    http POST /v1/jobs "{\"ref\": \"$FILES/files/a.bin#sha256=$A\"}" > /dev/null
    J=$(json_get "$TMP/body" 'j["job_id"]')
    sse "$J" "$TMP/s7"
done
check "two more jobs: the list is still the last three" \
    [ "$(jobs_view)" = "$K2:done $((K2 + 1)):done $J:done" ]
check "  ... the older documents gone, the log says so" sh -c \
    "[ \"\$(cd '$AP_HOME/apd-jobs' && ls | sort -n | tr '\n' ' ')\" = '$K2.json $((K2 + 1)).json $J.json ' ] && \
     grep -q 'apd: history: 3 finished jobs pruned (--history 3)' '$TMP/apd.err'"
# on a failure apd's log goes to stderr too, so a quiet `make check` shows it
[ "$_fail" -eq 0 ] || diag "$(tail -n 40 "$TMP/apd.err")" | tee /dev/stderr
done_testing
