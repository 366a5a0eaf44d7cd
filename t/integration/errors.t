#!/bin/sh
# A call that fails without a handle still tells the user why: apctl prints
# the thread's last error (ap_error_last), which names the store directory
# and the cause, instead of the bare status text ("local I/O error").
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 10

AP_HOME=/proc/x "$APCTL" ls > "$TMP/out" 2> "$TMP/err"
check "ls with AP_HOME=/proc/x fails" [ $? -ne 0 ]
check "... naming the store directory" grep -q "/proc/x" "$TMP/err"
check "... and the cause" grep -q "No such file or directory" "$TMP/err"
grep -q "local I/O error *$" "$TMP/err" && not_ok "... not only the status text" \
    || ok "... not only the status text"
diag "$(cat "$TMP/err")"

: > "$TMP/plain"
AP_HOME="$TMP/plain" "$APCTL" pull --quiet "https://127.0.0.1:9/x.bin#sha256=$(printf '%064d' 0)" \
    > "$TMP/out" 2> "$TMP/err"
check "pull with AP_HOME a regular file fails" [ $? -ne 0 ]
check "... naming the store directory" grep -q "$TMP/plain" "$TMP/err"
check "... and the cause" grep -q "Not a directory" "$TMP/err"
diag "$(cat "$TMP/err")"

AP_HOME="$TMP/plain" "$APCTL" verify > "$TMP/out" 2> "$TMP/err"
check "verify with AP_HOME a regular file names the cause" grep -q "Not a directory" "$TMP/err"

env -u AP_HOME -u XDG_CACHE_HOME -u HOME "$APCTL" ls > "$TMP/out" 2> "$TMP/err"
check "ls with no AP_HOME, XDG_CACHE_HOME or HOME fails" [ $? -ne 0 ]
check "... saying which variables it looked at" grep -q "AP_HOME.*HOME.*unset" "$TMP/err"
diag "$(cat "$TMP/err")"
done_testing
