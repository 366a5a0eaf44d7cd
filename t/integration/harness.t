#!/bin/sh
# The test harness stops what it started, and a hang names its culprit.
#   - t/lib.sh's stop_pids: a server that ignores TERM is named on stderr
#     and killed after AP_STOP_GRACE seconds, so the test ends.  The exit
#     traps used to `kill PID; wait PID` without a bound: one such wait
#     hung proxy_cache.t in CI until run-test's 900 s timeout.
#   - t/run-test: a test still running at its timeout is reported with each
#     of its processes (state, kernel wait channel, command) before it is
#     killed, and the wrapper's exit says it hung.
#   - The fake servers stop on TERM.  Their handlers used to call
#     threading.Event.set() while the main thread waited in Event.wait():
#     a TERM in the moment the main thread held the Event's lock deadlocked
#     the server (the likely cause of that hang: 1 in 200 stops deadlocked
#     with a 0.1 ms wait loop).  t/fixtures/stop_signal.py is now the only
#     signal handler of the fixtures, and it takes no lock.
# Every wait here is bounded by run-test's own timeout, never a sleep.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 11

# A test whose fake hub (FH_PID, stopped by t/lib.sh's cleanup) ignores TERM.
cat > "$TMP/stubborn.t" <<'T'
. "$AP_SRC/t/lib.sh"
plan 1
python3 -c '
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").write("up")
while True:
    time.sleep(1)' "$STUB_READY" stubborn-server &
FH_PID=$!
until [ -s "$STUB_READY" ]; do sleep 0.02; done
check "started" true
done_testing
T
STUB_READY="$TMP/ready-stub" AP_STOP_GRACE=1 AP_TEST_TIMEOUT=20 \
    sh "$AP_SRC/t/run-test" "$TMP/stubborn.t" > "$TMP/stub.out" 2> "$TMP/stub.err"
rc=$?
check "a test whose server ignores TERM ends on its own (exit $rc)" [ $rc -eq 0 ]
check "  ... stop_pids names the server and its state on stderr" \
    sh -c "grep -q 'stop_pids: pid [0-9]* still running 1 s after TERM (state S' '$TMP/stub.err' &&
           grep -q 'stubborn-server; KILL\$' '$TMP/stub.err'"
check "  ... and run-test found nothing left running" sh -c "! grep -q 'left processes running' '$TMP/stub.err'"
[ $rc -eq 0 ] || diag "$(cat "$TMP/stub.out" "$TMP/stub.err")"

# A test that hangs (waits on a child that never ends) with a 2 s timeout.
cat > "$TMP/hang.t" <<'T'
echo 1..1
sleep 600 &
wait
T
AP_TEST_TIMEOUT=2 sh "$AP_SRC/t/run-test" "$TMP/hang.t" > "$TMP/hang.out" 2> "$TMP/hang.err"
rc=$?
check "a hung test is killed and exits 124 (exit $rc)" [ $rc -eq 124 ]
check "  ... named as hung, on stderr and in its TAP" sh -c \
    "grep -q 'hang.t HUNG: killed after 2 s' '$TMP/hang.err' && grep -q '^# run-test: .*hang.t HUNG' '$TMP/hang.out'"
check "  ... with each process it left waiting: state, wait channel, command" sh -c \
    "grep -q '^run-test:  *[0-9][0-9]* S .* sleep 600\$' '$TMP/hang.err' && grep -q '^run-test:  *[0-9][0-9]* S .* sh .*hang.t\$' '$TMP/hang.err'"
[ $rc -eq 124 ] || diag "$(cat "$TMP/hang.out" "$TMP/hang.err")"

# The fixtures' signal handling: one handler, in stop_signal.py.
others=$(grep -ln 'signal\.signal(' "$AP_SRC"/t/fixtures/*.py | grep -v '/stop_signal\.py$')
check "no fixture installs a signal handler but stop_signal.py's${others:+ (also: $others)}" [ -z "$others" ]
# stopped_by_term FIXTURE ROUNDS: start it ROUNDS times, TERM it once it is
# ready; each time it must exit, with status 0, within 5 s (polled).
fx_ready() { [ -s "$TMP/fx.ready" ]; }
fx_gone() { ! pid_running "$FX"; }
stopped_by_term() {
    echo '{}' > "$TMP/empty.json"
    _r=0
    while [ $_r -lt "$2" ]; do
        _r=$((_r + 1))
        rm -f "$TMP/fx.ready"
        python3 "$AP_SRC/t/fixtures/$1.py" --config "$TMP/empty.json" --log "$TMP/fx.log" \
            --ready-file "$TMP/fx.ready" > /dev/null &
        FX=$!
        poll_until 10 fx_ready || { kill -KILL $FX; wait $FX; return 1; }
        kill -TERM $FX
        if ! poll_until 5 fx_gone; then
            diag "$1 (round $_r) did not exit 5 s after TERM: $(cat /proc/$FX/wchan)"
            kill -KILL $FX; wait $FX; return 1
        fi
        wait $FX || { diag "$1 exited $? on TERM"; return 1; }
    done
}
for fx in fakehub fakegh fakeregistry; do
    check "$fx exits on TERM, 5 times out of 5" stopped_by_term $fx 5
done
# fakehub --stdin-watch (how the unit tests tie it): EOF on stdin stops it.
rm -f "$TMP/fx.ready"
mkfifo "$TMP/fx.in"
python3 "$AP_SRC/t/fixtures/fakehub.py" --config "$TMP/empty.json" --log "$TMP/fx.log" \
    --ready-file "$TMP/fx.ready" --stdin-watch < "$TMP/fx.in" > /dev/null &
FX=$!
exec 7> "$TMP/fx.in"
poll_until 10 fx_ready
exec 7>&-
check "fakehub --stdin-watch exits when its stdin closes" poll_until 5 fx_gone
stop_pids "$FX"
done_testing
