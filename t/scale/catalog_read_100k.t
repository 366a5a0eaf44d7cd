#!/bin/sh
# `make check-scale`: reading a catalog entry of 100,000 files stays cheap
# (issue 12: `apctl ls` and `show` of such an entry under a second).  No
# pull: t/helpers/catalog_entry.py lays down the document a pull of a
# 100,000-file snapshot writes (hf:org/many, 50 MB), then `apctl ls`,
# `show` and `show --json` of it run under CPU-second limits (`ulimit -t`,
# a resource bound, never wall time): 2 s for ls and show, 3 s for show
# --json; and apd's GET /v1/models/ID and /v1/models each within 3 CPU
# seconds of apd's (its /proc/PID/stat before and after).  Measured on the
# 2-core machine: 0.5 CPU s for ls and show, 0.9 for show --json, 1.2-1.5
# for each apd request; on jansson's tree of the document 2.8, 3.0, 8.1
# and 3.9-4.7 CPU s, so each check failed.  AP_CATALOG_FILES=N runs
# another size.  About 20 s.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 7
N=${AP_CATALOG_FILES:-100000}
DOC=$(python3 "$AP_SRC/t/helpers/catalog_entry.py" "$AP_HOME" "$N")
ID=$(basename "$DOC" .json)
check "a $N-file entry laid down ($(wc -c < "$DOC") bytes)" [ -s "$DOC" ]

( ulimit -t 2; "$APCTL" ls > "$TMP/ls" 2> "$TMP/err" )
check "apctl ls lists it within 2 CPU seconds" grep -q "hf:org/many *(${N} files" "$TMP/ls"
diag "$(head -2 "$TMP/ls") $(cat "$TMP/err")"
( ulimit -t 2; "$APCTL" show hf:org/many > "$TMP/show" 2> "$TMP/err" )
check "apctl show lists its $N files within 2 CPU seconds" \
    [ "$(grep -c '^  d[0-9]*/f[0-9]*\.txt ' "$TMP/show")" -eq "$N" ]
diag "$(head -2 "$TMP/show") $(cat "$TMP/err")"
same_as_doc() { # FILE [PYTHON-EXPR picking the entry out of the JSON j]
    python3 -c "
import json, sys
j, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
e = $2
sys.exit(not (len(e['files']) == $N and all(f['status'] == 'ready' for f in e['files'])
              and e == d))" "$1" "$DOC"
}
( ulimit -t 3; "$APCTL" show --json hf:org/many > "$TMP/show.json" 2> "$TMP/err" )
check "apctl show --json of it within 3 CPU seconds parses, $N files ready, as stored" \
    same_as_doc "$TMP/show.json" j
diag "$(cat "$TMP/err")"

APD_PID=
stop_apd() { stop_pids "$APD_PID"; APD_PID=; }
trap 'stop_apd; cleanup' EXIT
"$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" 2> "$TMP/apd.err" &
APD_PID=$!
poll_until 5 test -s "$TMP/port"
URL="http://127.0.0.1:$(cat "$TMP/port")"
HZ=$(getconf CLK_TCK)
apd_cpu() { awk '{print $14 + $15}' "/proc/$APD_PID/stat"; }
# get PATH OUT: the request's cost in apd's CPU ticks on stdout
get() {
    c0=$(apd_cpu)
    curl -s -m 120 -o "$2" "$URL$1" || echo "curl failed: $?" >&2
    echo $(( $(apd_cpu) - c0 ))
}
# within TICKS FILE EXPR: the request cost at most 3 CPU s and FILE holds the entry
within() { [ "$1" -le $((3 * HZ)) ] && same_as_doc "$2" "$3"; }
T1=$(get "/v1/models/$ID" "$TMP/one.json")
check "apd GET /v1/models/ID: the document, within 3 CPU seconds ($T1 ticks of $HZ)" \
    within "$T1" "$TMP/one.json" j
T2=$(get "/v1/models" "$TMP/all.json")
check "apd GET /v1/models: {\"models\": [it]}, within 3 CPU seconds ($T2 ticks of $HZ)" \
    within "$T2" "$TMP/all.json" "j['models'][0] if len(j['models']) == 1 else None"
diag "$(cat "$TMP/apd.err")"
check "apd is still up" pid_running "$APD_PID"
done_testing
