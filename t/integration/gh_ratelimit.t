#!/bin/sh
# GitHub API rate limits: a short x-ratelimit-reset is waited out and the
# pull succeeds; a long one fails with AP_ERATELIMIT naming the UTC time to
# retry; rate_limit_wait bounds the wait; retry-after (secondary limits,
# 429) is honoured; a cancel during the wait ends it.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
. "$AP_SRC/t/integration/gh_lib.sh"
plan 17

gen_bytes 200000 rl > "$TMP/a.bin"
config() { # config RATE_LIMIT_JSON
    cat > "$TMP/c.json" <<JSON
{"rate_limit": $1,
 "repos": {"o/r": {"releases": [{"tag": "v1", "assets": {"a.bin": {"source": "$TMP/a.bin"}}}]}}}
JSON
    new_config "$TMP/c.json"
}
config null
start_gh "$TMP/cfg.json"
run() { # run HOME: pull gh:o/r/a.bin with --events into $TMP/ev, stderr lines into $TMP/err
    AP_HOME="$TMP/$1" "$APCTL" pull --events gh:o/r/a.bin > "$TMP/ev" 2>&1
    rc=$?
    ST=$(error_status "$TMP/ev")
    grep -v '^{' "$TMP/ev" > "$TMP/err"
    diag "$(cat "$TMP/err")"
}

# --- a short reset: waited out ---
config '{"after": 0, "reset_in": 2}'
: > "$FH_LOG"
run h1
check "x-ratelimit-remaining: 0 with a reset 2 s away: the pull succeeds" [ $rc -eq 0 ]
check "  ... the bytes are right" cmp -s "$TMP/h1/models/github/o/r/a.bin" "$TMP/a.bin"
n403=$(count_log 'r["server"]=="api" and r["status"]==403 and r["path"].endswith("/releases/latest")')
n200=$(count_log 'r["server"]=="api" and r["status"]==200 and r["path"].endswith("/releases/latest")')
check "  ... the API said 403, then answered the same request ($n403 x 403, $n200 x 200)" \
    sh -c "[ $n403 -ge 1 ] && [ $n200 -eq 1 ]"
check "  ... and the wait was logged (warning, what it waits for, until when)" sh -c \
    "grep -q '^warning: .*rate limit.*x-ratelimit-remaining: 0.*waiting [0-9]* s, until 20[0-9-]* [0-9:]* UTC' '$TMP/err'"

# --- a long reset: fails at once, saying when to retry ---
t0=$(date +%s)
config '{"after": 0, "reset_in": 3600}'
run h2
t1=$(date +%s)
check "a reset an hour away fails with AP_ERATELIMIT" sh -c "[ $rc -ne 0 ] && [ '$ST' = -19 ]"
when=$(sed -n 's/.*retry after \(20[0-9-]* [0-9:]*\) UTC.*/\1/p' "$TMP/err" | head -1)
ws=$(date -u -d "$when" +%s 2>/dev/null || echo 0)
check "  ... naming the reset time in UTC ($when)" sh -c \
    "[ $ws -ge $((t0 + 3600)) ] && [ $ws -le $((t1 + 3601)) ]"
check "  ... the reference, and a GH_TOKEN hint" sh -c \
    "grep -q 'gh:o/r/a.bin' '$TMP/err' && grep -q 'GH_TOKEN' '$TMP/err'"
check "  ... having made one API request" [ "$(count_log 'r["server"]=="api" and r["status"]==403 and r["path"].endswith("/releases/latest")')" -eq "$((n403 + 1))" ]

# --- rate_limit_wait bounds the wait ---
config '{"after": 0, "reset_in": 5}'
AP_GITHUB_RATE_LIMIT_WAIT=0 run h3
check "AP_GITHUB_RATE_LIMIT_WAIT=0: a reset 5 s away is not waited for (AP_ERATELIMIT)" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -19 ] && grep -q 'rate_limit_wait=0' '$TMP/err'"
AP_GITHUB_RATE_LIMIT_WAIT=soon run h3b
check "a rate_limit_wait that is not a number is refused, naming it" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -2 ] && grep -q \"rate_limit_wait 'soon'\" '$TMP/err'"

# --- retry-after: a secondary limit (403) and a 429 ---
config '{"after": 0, "reset_in": 2, "retry_after": 1, "status": 403}'
run h4
check "403 with retry-after (secondary limit): waited out, pull succeeds" sh -c \
    "[ $rc -eq 0 ] && grep -q 'retry-after' '$TMP/err' && cmp -s '$TMP/h4/models/github/o/r/a.bin' '$TMP/a.bin'"
config '{"after": 0, "reset_in": 2, "retry_after": 1, "status": 429}'
: > "$FH_LOG"
run h5
check "429 with retry-after: waited out, pull succeeds" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$TMP/h5/models/github/o/r/a.bin' '$TMP/a.bin'"
check "  ... after a 429 from the API" [ "$(count_log 'r["status"]==429')" -ge 1 ]

# The asset download itself goes through the API (assets/ID) and counts
# against the limit too; the engine, not the vendor, makes that request and
# waits a 403 carrying Retry-After or X-RateLimit-Remaining: 0 out like a 429.
config '{"after": 1, "reset_in": 2, "retry_after": 1, "status": 403}'
run h7
check "a 403 rate limit on the asset download (engine) is waited out" \
    sh -c "[ $rc -eq 0 ] && cmp -s '$TMP/h7/models/github/o/r/a.bin' '$TMP/a.bin'"

# --- cancel during the wait ---
config '{"after": 0, "reset_in": 50}'
AP_HOME="$TMP/h6" "$APCTL" pull gh:o/r/a.bin > /dev/null 2> "$TMP/err6" &
pid=$!
i=0
while ! grep -q 'waiting' "$TMP/err6" && [ $i -lt 1500 ]; do i=$((i + 1)); sleep 0.02; done
check "a reset 50 s away is waited for (logged)" grep -q 'waiting [0-9]* s' "$TMP/err6"
kill -INT $pid
wait $pid
rc=$?
diag "$(cat "$TMP/err6")"
check "SIGINT during the wait cancels the pull (exit 130)" [ $rc -eq 130 ]
check "  ... saying it was cancelled while waiting for the rate limit" \
    grep -q 'cancelled while waiting for the GitHub API rate limit' "$TMP/err6"
done_testing
