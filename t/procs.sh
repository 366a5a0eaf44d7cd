# t/procs.sh — the background processes of a test or a benchmark (servers):
# whether one still runs, and stopping them with a bound.  Sourced by
# t/lib.sh and bench/lib.sh (POSIX sh; reads Linux's /proc).
# SPDX-License-Identifier: MIT

# pid_state PID: the one-letter state of process PID (R, S, D, Z, ...), or
# nothing when there is no such process.  Read from /proc: the first field
# after the command's closing parenthesis.
pid_state() {
    sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null
}

# pid_running PID: the process exists and has not exited.  A zombie does not
# count: a child of this shell stays one until `wait`, and an orphan may
# stay one for good (PID 1 of a container or VM may not reap).
pid_running() {
    case $(pid_state "$1") in ''|Z|X) return 1 ;; esac
}

# stop_pids PID...: stop background processes this script started.
# Each gets TERM and is polled until it exits; one still running 10 s later
# (AP_STOP_GRACE) is named on stderr with its state and kernel wait
# channel, then gets KILL.
# A server that ignores TERM costs its script 10 s and a diagnosis, never a
# hang (an unbounded `wait` hung a test until run-test's timeout once).
# The stopped ones are reaped; empty arguments are skipped.
stop_pids() {
    _sent=
    for _p in "$@"; do
        [ -n "$_p" ] && kill "$_p" 2>/dev/null && _sent="$_sent $_p"
    done
    _sp_n=$(( ${AP_STOP_GRACE:-10} * 20 ))
    for _p in $_sent; do
        _sp_i=0
        while pid_running "$_p"; do
            _sp_i=$((_sp_i + 1))
            if [ $_sp_i -eq $_sp_n ]; then
                echo "stop_pids: pid $_p still running ${AP_STOP_GRACE:-10} s after TERM" \
                    "(state $(pid_state "$_p"), wchan $(cat "/proc/$_p/wchan" 2>/dev/null)):" \
                    "$(tr '\0\n' '  ' < "/proc/$_p/cmdline" 2>/dev/null | sed 's/ *$//'); KILL" >&2
                kill -KILL "$_p" 2>/dev/null
            elif [ $_sp_i -gt $((_sp_n + 100)) ]; then
                echo "stop_pids: pid $_p survived KILL; not waiting for it" >&2
                _sent=$(echo " $_sent " | sed "s/ $_p / /")
                break
            fi
            sleep 0.05
        done
    done
    for _p in $_sent; do wait "$_p" 2>/dev/null; done
    return 0
}
