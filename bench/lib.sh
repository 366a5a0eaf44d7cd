# bench/lib.sh — what the benchmarks share; sourced after B (the build
# directory), ROOT (the tree) and T (the run's temporary directory) are set.
# SPDX-License-Identifier: MIT

# Snapshot apctl, the shared library it finds beside it ($ORIGIN) and the
# vendors into $T/bin: a rebuild of build/ during the run (a shared machine)
# must not change what is measured.  Sets APCTL, exports AP_VENDOR_PATH.
bench_snapshot_apctl() {
    mkdir -p "$T/bin"
    cp "$B/apctl" "$T/bin/apctl"
    cp -P "$B"/libartifactprov.so.* "$T/bin/"
    cp -R "$B/vendors" "$T/bin/vendors"
    APCTL=$T/bin/apctl
    AP_VENDOR_PATH=$T/bin/vendors
    export AP_VENDOR_PATH
}

. "$ROOT/t/procs.sh"   # stop_pids: the servers a benchmark starts

# The exit trap of a benchmark that starts the fake hub: stop it (by its
# PID, with a bound), remove $T.
HUB_PID=
bench_hub_cleanup() {
    stop_pids "$HUB_PID"
    rm -rf "$T"
}

# bench_start_hub CONFIG LOG: the fake hub (t/fixtures/fakehub.py) on
# loopback with CONFIG, its request log to LOG, started and waited for.
# Sets HUB_PID (bench_hub_cleanup kills it), HUB, exports HF_ENDPOINT.
bench_start_hub() {
    python3 "$ROOT/t/fixtures/fakehub.py" --config "$1" --log "$2" \
        --ready-file "$T/ready" >/dev/null 2>"$T/hub.err" &
    HUB_PID=$!
    _i=0
    while [ ! -s "$T/ready" ]; do
        _i=$((_i + 1))
        [ $_i -lt 3000 ] || { echo "bench: fake hub did not start: $(cat "$T/hub.err")" >&2; exit 1; }
        sleep 0.02
    done
    HUB=$(sed 's/.*"hub":"\([^"]*\)".*/\1/' "$T/ready")
    HF_ENDPOINT=$HUB
    export HF_ENDPOINT
}
