#!/bin/sh
# A unit test's fake hub dies with the test binary.  An aborted or killed
# binary used to leave its hub (t/fixtures/fakehub.py) running with the
# binary's stderr -- prove's pipe -- open, and prove waited for that pipe
# forever (a UBSan abort in test_alloc_fail hung CI's sanitizer pass).
# t/unit/child_tie.h ties every hub to its test binary (PR_SET_PDEATHSIG
# and --stdin-watch on a close-on-exec pipe).  Here a unit binary of each
# fixture (fakehub_fixture.h: test_provisioner; hf_vendor_fixture.h:
# test_hf_vendor) writes into a FIFO and is killed with SIGKILL (what an
# abort amounts to for the hub: the parent is gone, no cleanup ran) once
# its hub runs: the hub must exit and the FIFO must reach EOF (no
# process left holding the binary's stdout or stderr).  Every wait is a
# poll with a generous bound, not a fixed sleep.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 4
LEFT=                            # hubs still running: killed at exit (by PID)
orphan_cleanup() {
    for p in $LEFT; do kill "$p" 2>/dev/null; done
    cleanup
}
trap orphan_cleanup EXIT INT TERM

not_alive() { ! pid_running "$1"; }  # t/lib.sh: a zombie is not running
hubs_of() { ps -o pid=,comm= --ppid "$1" 2>/dev/null | awk '$2 == "python3" {print $1}'; }
# have_hub: the binary, stopped (SIGSTOP, so it cannot end or restart its
# hub meanwhile), has a hub running; sets HUBS.  Else it continues.
have_hub() {
    kill -s STOP "$BIN" 2>/dev/null || return 1
    HUBS=$(hubs_of "$BIN")
    [ -n "$HUBS" ] && return 0
    kill -s CONT "$BIN"
    return 1
}

# run_and_kill BINARY SIGNAL
run_and_kill() {
    name=$(basename "$1")
    fifo="$TMP/out.$name.$2"
    mkfifo "$fifo"
    # the binary's stdout and stderr both go to the FIFO, as to prove's pipes
    "$1" > "$fifo" 2>&1 &
    BIN=$!
    cat < "$fifo" > "$TMP/log.$name.$2" &
    CAT=$!
    if ! poll_until 120 have_hub; then
        not_ok "$name: a hub ran before the binary ended"
        not_ok "$name: killed with SIG$2, its output pipe closed"
        wait "$BIN" 2>/dev/null; wait "$CAT" 2>/dev/null
        return
    fi
    hubs=$HUBS
    LEFT="$LEFT $hubs"
    kill -s "$2" "$BIN"                 # SIGKILL works on a stopped process
    wait "$BIN" 2>/dev/null
    gone=yes
    for h in $hubs; do poll_until 30 not_alive "$h" || gone=no; done
    if [ $gone = yes ]; then ok "$name: killed with SIG$2, its hub exited ($(echo $hubs))"
    else not_ok "$name: killed with SIG$2, its hub exited"
        diag "still running: $(ps -o pid=,stat=,args= -p "$(echo $hubs | tr ' ' ,)")"
    fi
    if poll_until 30 not_alive "$CAT"; then
        wait "$CAT" 2>/dev/null
        ok "$name: killed with SIG$2, its output pipe closed"
    else
        not_ok "$name: killed with SIG$2, its output pipe closed (still held open)"
        kill "$CAT" 2>/dev/null
    fi
}

run_and_kill "$AP_BUILD/t/unit/test_provisioner" KILL
run_and_kill "$AP_BUILD/t/unit/test_hf_vendor" KILL
done_testing
