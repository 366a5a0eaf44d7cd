# Shared helpers for the integration tests (POSIX sh, TAP output).
# Each .t file sources this: `. "$AP_SRC/t/lib.sh"`.
set -u
: "${AP_SRC:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${AP_BUILD:=$AP_SRC/build}"
APCTL="$AP_BUILD/apctl"
AP_VENDOR_PATH="$AP_BUILD/vendors"
export AP_SRC AP_BUILD AP_VENDOR_PATH
# python3 from the interpreter's own directory, first in PATH: a version
# manager's shim (pyenv's is a bash script that forks a dozen processes)
# costs about 0.7 s of CPU a call on the 2-core machine against 0.13 s for
# the interpreter, and the tests call python3 hundreds of times.  The same
# interpreter runs.  `make check` passes AP_PYTHON_DIR, computed once.
if [ -z "${AP_PYTHON_DIR:-}" ]; then
    AP_PYTHON_DIR=$(python3 -c 'import os, sys; print(os.path.dirname(sys.executable))' 2>/dev/null) || AP_PYTHON_DIR=
fi
if [ -n "$AP_PYTHON_DIR" ] && [ -x "$AP_PYTHON_DIR/python3" ]; then
    PATH="$AP_PYTHON_DIR:$PATH"
    export PATH AP_PYTHON_DIR
fi
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_ENDPOINT HF_HUB_OFFLINE HF_HOME HF_HUB_CACHE

TMP=$(mktemp -d "${TMPDIR:-/tmp}/aptest.XXXXXX")
AP_HOME="$TMP/home"
HF_HOME="$TMP/hf-home"   # never the user's real token or cache
export AP_HOME HF_HOME
_n=0
_fail=0
FH_PID=

. "$AP_SRC/t/procs.sh"   # pid_running, stop_pids

# poll_until SECONDS CMD...: run CMD every 0.05 s until it succeeds; 1 when
# it still fails after SECONDS.
poll_until() {
    _pu_max=$(( $1 * 20 )); shift
    _pu_i=0
    until "$@"; do
        _pu_i=$((_pu_i + 1))
        [ $_pu_i -gt $_pu_max ] && return 1
        sleep 0.05
    done
}

cleanup() {
    stop_pids "$FH_PID"
    FH_PID=
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

plan() { echo "1..$1"; }
ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() { _n=$((_n + 1)); _fail=$((_fail + 1)); echo "not ok $_n - $1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
    _d=$1; shift
    if "$@"; then ok "$_d"; else not_ok "$_d"; fi
}
done_testing() { [ "$_fail" -eq 0 ]; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

# gen_bytes SIZE SEED > FILE: the fake hub's deterministic generator
# (block i = sha256("SEED:i"), concatenated, truncated).
gen_bytes() {
    python3 -c '
import hashlib, sys
size, seed = int(sys.argv[1]), sys.argv[2]
out = bytearray(); i = 0
while len(out) < size:
    out += hashlib.sha256(f"{seed}:{i}".encode()).digest(); i += 1
sys.stdout.buffer.write(bytes(out[:size]))' "$1" "$2"
}

# start_hub CONFIG: starts the fake hub, sets HUB CDN FILES FH_LOG.
start_hub() {
    FH_LOG="$TMP/fakehub.log"
    : > "$FH_LOG"
    rm -f "$TMP/ready"
    python3 "$AP_SRC/t/fixtures/fakehub.py" --config "$1" --log "$FH_LOG" \
        --ready-file "$TMP/ready" >/dev/null &
    FH_PID=$!
    _i=0
    while [ ! -s "$TMP/ready" ]; do
        _i=$((_i + 1))
        if [ $_i -gt 500 ]; then echo "Bail out! fake hub did not start"; exit 1; fi
        sleep 0.02
    done
    HUB=$(sed 's/.*"hub":"\([^"]*\)".*/\1/' "$TMP/ready")
    CDN=$(sed 's/.*"cdn":"\([^"]*\)".*/\1/' "$TMP/ready")
    FILES=$(sed 's/.*"files":"\([^"]*\)".*/\1/' "$TMP/ready")
    export HUB CDN FILES
}

# json_get FILE EXPR: evaluate a Python expression on the JSON in FILE (as j).
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# count_log EXPR: how many lines of the fake hub's request log satisfy the
# Python expression EXPR, evaluated with r = the parsed line.
count_log() {
    python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    l = l.strip()
    if l:
        r = json.loads(l)
        n += bool(eval(sys.argv[2]))
print(n)' "$FH_LOG" "$1"
}

# fleet_block NAME: the ```nginx block of docs/fleet.md whose first line is
# "# fleet: NAME", verbatim (the proxy-cache tests run the doc's blocks).
fleet_block() {
    awk -v want="# fleet: $1" '
        /^```nginx$/ { inb = 1; first = 1; next }
        /^```$/ { inb = 0; take = 0; next }
        inb && first { first = 0; take = ($0 == want) }
        take { print }' "$AP_SRC/docs/fleet.md"
}

# fleet_check NAME...: bail out unless docs/fleet.md has each block.
fleet_check() {
    for _b in "$@"; do
        [ -n "$(fleet_block "$_b")" ] ||
            { echo "Bail out! docs/fleet.md has no '# fleet: $_b' block"; exit 1; }
    done
}

# fleet_conf DIR NAME...: an nginx.conf that runs in DIR (its logs, temp
# files, pid) with the named docs/fleet.md blocks in its http context, as
# the doc gives them.
fleet_conf() {
    _d=$1; shift
    echo "worker_processes 1; daemon off; pid $_d/nginx.pid;"
    [ "$(id -u)" -eq 0 ] && echo "user root;"
    echo "events { worker_connections 512; }"
    echo "http {"
    echo "access_log $_d/access.log; client_body_temp_path $_d/tmp/body;"
    echo "proxy_temp_path $_d/tmp/proxy; fastcgi_temp_path $_d/tmp/fastcgi;"
    echo "uwsgi_temp_path $_d/tmp/uwsgi; scgi_temp_path $_d/tmp/scgi;"
    for _b in "$@"; do fleet_block "$_b"; done
    echo "}"
}

# hub_drop_faults CONFIG NAME...: the running fake hub serves the files
# NAME of its "files" map without their faults from now on (CONFIG, the
# file start_hub was given, is rewritten and posted to /_admin/config).
hub_drop_faults() {
    _cfg=$1; shift
    python3 - "$_cfg" "$@" <<'PY' || return 1
import json, sys
path, names = sys.argv[1], sys.argv[2:]
cfg = json.load(open(path))
for n in names:
    cfg["files"][n].pop("faults", None)
json.dump(cfg, open(path, "w"))
PY
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$_cfg" \
        "$HUB/_admin/config")" = 200 ]
}

# fleet_nginx_start DIR PORT...: nginx with DIR/nginx.conf, in the
# background (its pid in NGINX); returns once every PORT answers on
# loopback, bails out if nginx exits or never answers.
fleet_nginx_start() {
    _d=$1; shift
    nginx -p "$_d" -c "$_d/nginx.conf" -e "$_d/error.log" < /dev/null \
        > "$_d/stdout" 2> "$_d/stderr" &
    NGINX=$!
    _i=0
    for _p in "$@"; do
        until curl -s -o /dev/null "http://127.0.0.1:$_p/"; do
            _i=$((_i + 1))
            if [ $_i -gt 250 ] || ! kill -0 $NGINX 2>/dev/null; then
                echo "Bail out! nginx did not start: $(cat "$_d/stderr" "$_d/error.log" 2>/dev/null)"; exit 1
            fi
            sleep 0.02
        done
    done
}
