#!/bin/sh
# Cancelling a build (SIGINT to apctl): the command's whole process group is
# stopped (SIGTERM, then SIGKILL after the grace period for a command that
# ignores SIGTERM), the work directory is removed, nothing is recorded as
# ready; the command's heartbeat keeps flowing while it prints nothing.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 12
mkdir -p "$TMP/work" "$TMP/r"
TMPDIR="$TMP/work"
export TMPDIR

# gone: no process of the build's group runs any more, its background
# child included (a zombie waiting for pid 1 to reap it does not run)
gone() {
    ! ps -eo pid=,pgid=,stat= | awk -v g="$PG" -v c="$CH" \
        '($1 == c || $2 == g) && $3 !~ /^Z/ { f = 1 } END { exit !f }'
}

# A build that starts a background child in its group and then waits for
# ever; GRACE_TRAP makes its shell ignore SIGTERM.
mkrecipe() { # FILE TRAP
    cat > "$1" <<JSON
{"shell": true,
 "command": "$2 echo \$\$ > '$TMP/pgid'; sleep 1000 & echo \$! > '$TMP/child.tmp'; mv '$TMP/child.tmp' '$TMP/child'; echo started; wait; wait",
 "outputs": ["out.bin"]}
JSON
}
wait_child() {
    i=0
    while [ ! -s "$TMP/child" ]; do
        i=$((i + 1)); [ $i -gt 500 ] && return 1; sleep 0.02
    done
}

run_cancel() { # RECIPE, extra apctl args...
    rm -f "$TMP/pgid" "$TMP/child"
    r=$1; shift
    "$APCTL" pull --events --heartbeat 100 "$@" "build:$r" > /dev/null 2> "$TMP/ev" &
    A=$!
    wait_child || diag "the build did not start: $(tail -n 3 "$TMP/ev")"
    PG=$(cat "$TMP/pgid")
    CH=$(cat "$TMP/child")
    # the heartbeat flows while the command prints nothing
    i=0
    while [ "$(grep -c '"event":"heartbeat"' "$TMP/ev")" -lt 2 ]; do
        i=$((i + 1)); [ $i -gt 500 ] && break; sleep 0.02
    done
    kill -INT $A
    wait $A
    RC=$?
}

mkrecipe "$TMP/r/slow.json" ""
run_cancel "$TMP/r/slow.json"
check "the build ran in its own process group (not apctl's)" [ "$PG" != "$(ps -o pgid= -p $$ | tr -d ' ')" ]
check "heartbeats flow while the command is silent" [ "$(grep -c '"event":"heartbeat"' "$TMP/ev")" -ge 2 ]
check "Ctrl-C exits 130" [ $RC -eq 130 ]
[ $RC -eq 130 ] || diag "rc=$RC $(tail -n 3 "$TMP/ev")"
check "the command's process group is gone (the background child too)" gone
check "the work directory is removed" [ -z "$(ls -A "$TMP/work")" ]
check "the entry is not ready" sh -c "'$APCTL' show --json 'build:$TMP/r/slow.json' > '$TMP/show.json' 2>/dev/null; ! grep -q '\"status\": *\"ready\"' '$TMP/show.json'"
check "the cancel is logged with the process group" grep -q "SIGTERM to process group $PG" "$TMP/ev"

# a command that ignores SIGTERM: SIGKILL after the grace period
mkrecipe "$TMP/r/stubborn.json" "trap '' TERM;"
run_cancel "$TMP/r/stubborn.json" -o build_grace_ms=300
check "a command ignoring SIGTERM is cancelled too (130)" [ $RC -eq 130 ]
check "... with SIGKILL after the grace period" grep -q 'still running after 300 ms: SIGKILL' "$TMP/ev"
check "... its process group is gone" gone
check "... and the work directory is removed" [ -z "$(ls -A "$TMP/work")" ]
check "nothing of either build is in the catalog as ready" sh -c "! '$APCTL' ls | grep -E 'slow|stubborn' | grep -q ready"
done_testing
