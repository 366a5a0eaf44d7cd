#!/bin/sh
# Crash matrix (docs/TESTING.md): kill -9 at six named points of a pull,
# ten runs each, through the fault build's apctl (build/fault/apctl, whose
# APX_FAULT hooks raise SIGKILL when AP_FAULT_KILL_AT names the point):
#
#   resolve        the vendor resolved, nothing written yet
#   mid-chunk      the engine has written part of a file (Nth write)
#   verify         a file's bytes are complete, digest not compared yet
#   commit-rename  just before a blob's rename into blobs/
#   catalog-write  just before a catalog document's rename
#   publish-copy   during --hf-cache publishing by the vendor (host put_copy: blob placed, no link yet)
#
# The runs vary what is pulled: an LFS file, a regular file, a snapshot
# (first pull), and a re-pull of a ready snapshot / LFS file after @main
# moved.  Each run must die by SIGKILL at its point (status 137 and the
# hook's "ap-fault: SIGKILL at POINT:N" line): a run that ends otherwise
# fails, it is never skipped.  After each kill: no corrupt blob, no false
# "ready" (t/helpers/store_check.py), `apctl verify` clean; then a rerun
# with the normal apctl ends "ready" with the exact bytes, and the store
# is still correct.  Also: the normal library has no fault symbol.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
RUNS=${AP_CRASH_RUNS:-10}
POINTS="resolve mid-chunk verify commit-rename catalog-write publish-copy"
PER_RUN=7
plan $((6 * RUNS * PER_RUN + 3))
FAPCTL="$AP_BUILD/fault/apctl"

# --- the normal build has no fault code ------------------------------------
check "normal libartifactprov.so has no apx_fault symbol" \
    sh -c "! nm '$AP_BUILD/libartifactprov.so' | grep -q apx_fault"
check "normal libartifactprov.a has no apx_fault symbol" \
    sh -c "! nm '$AP_BUILD/libartifactprov.a' 2>/dev/null | grep -q apx_fault"
check "the fault build's archive has them (the check above can fail)" \
    sh -c "nm '$AP_BUILD/fault/libartifactprov.a' 2>/dev/null | grep -q 'T apx_fault_point'"

C1=1111111111111111111111111111111111111111
C2=2222222222222222222222222222222222222222
W1=1000000; W2=1100000; T1=300000; T2=310000
python3 -c '
import hashlib, sys
for size, seed in zip(sys.argv[2::2], sys.argv[3::2]):
    out = bytearray(); i = 0
    while len(out) < int(size):
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest(); i += 1
    open(sys.argv[1] + "/" + seed, "wb").write(bytes(out[:int(size)]))' "$TMP" $W1 w1 $W2 w2 $T1 t1 $T2 t2
printf '{"model_type": "crash", "v": 1}' > "$TMP/c1"
printf '{"model_type": "crash", "v": 22}' > "$TMP/c2"

# write_cfg MAIN: the hub serves org/crash with main at MAIN (C1 or C2).
write_cfg() {
    cat > "$TMP/cfg.tmp" <<JSON
{"repos": {"org/crash": {"refs": {"main": "$1"}, "commits": {
  "$C1": {"files": {"config.json": {"source": "$TMP/c1"},
                    "tok.bin": {"generate": {"size": $T1, "seed": "t1"}},
                    "weights.bin": {"generate": {"size": $W1, "seed": "w1"}, "lfs": true}}},
  "$C2": {"files": {"config.json": {"source": "$TMP/c2"},
                    "tok.bin": {"generate": {"size": $T2, "seed": "t2"}},
                    "weights.bin": {"generate": {"size": $W2, "seed": "w2"}, "lfs": true}}}}}}}
JSON
    mv "$TMP/cfg.tmp" "$TMP/cfg.json"
}
write_cfg $C1
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

SHA_w1=$(sha256 "$TMP/w1"); SHA_w2=$(sha256 "$TMP/w2"); SHA_t1=$(sha256 "$TMP/t1")
SHA_t2=$(sha256 "$TMP/t2"); SHA_c1=$(sha256 "$TMP/c1"); SHA_c2=$(sha256 "$TMP/c2")
# The checks run sha256sum and jq, not Python: 120 runs x several checks,
# and a Python start costs up to a second on a loaded 2-core machine.
# store_ok: the invariants of t/helpers/store_check.py that a crash can
# break: every file under blobs/sha256/ named like a blob has that sha256
# (no corrupt blob); every catalog document parses; every file of a
# "ready" entry exists at its path and in blobs/ with the recorded sha256
# (no false ready).
store_ok() {
    : > "$TMP/sum"
    if [ -d "$AP_HOME/blobs/sha256" ]; then
        find "$AP_HOME/blobs/sha256" -type f | grep -E '/[0-9a-f]{2}/[0-9a-f]{64}$' |
            sed 's|^\(.*/\([0-9a-f]*\)\)$|\2  \1|' >> "$TMP/sum"
    fi
    for _doc in "$AP_HOME"/catalog/*.json; do
        [ -e "$_doc" ] || continue
        jq -e 'type == "object"' "$_doc" > /dev/null 2>&1 || { diag "unparseable: $_doc"; return 1; }
        jq -r --arg b "$AP_HOME/blobs/sha256" 'select(.status == "ready") |
            if (.files | length) == 0 then "ready-with-no-files  /" else
            .files[] | "\(.sha256)  \(.path)", "\(.sha256)  \($b)/\(.sha256[0:2])/\(.sha256)" end' \
            "$_doc" >> "$TMP/sum" || return 1
    done
    [ -s "$TMP/sum" ] || return 0
    sha256sum -c --quiet --strict "$TMP/sum" > "$TMP/sc" 2>&1 || { diag "$(cat "$TMP/sc")"; return 1; }
}
verify_ok() {
    timeout 60 "$APCTL" verify > "$TMP/vf" 2>&1
    _r=$?
    [ $_r -eq 0 ] || diag "$(cat "$TMP/vf")"
    return $_r
}
# want_sha NAME V: the sha256 of file NAME at commit V (1 or 2).
want_sha() {
    case $1 in config.json) eval echo \$SHA_c$2 ;; tok.bin) eval echo \$SHA_t$2 ;;
    weights.bin) eval echo \$SHA_w$2 ;; esac
}
cver() { if [ "$1" = $C1 ]; then echo 1; else echo 2; fi; }
# exact_ready JSON C NF: the pull's JSON says ready at commit C with NF
# files, and every file at its reported path has the bytes of commit C.
exact_ready() {
    _v=$(cver "$2")
    [ "$(jq -r '"\(.status) \(.revision) \(.files | length)"' "$1")" = "ready $2 $3" ] ||
        { diag "got: $(jq -c '[.status, .revision, (.files | length)]' "$1")"; return 1; }
    jq -r '.files[] | "\(.name) \(.path)"' "$1" | while read -r _name _path; do
        echo "$(want_sha "$_name" $_v)  $_path"
    done > "$TMP/ex.sum"
    sha256sum -c --quiet --strict "$TMP/ex.sum" > "$TMP/ex" 2>&1 || { diag "$(cat "$TMP/ex")"; return 1; }
}
# hf_ok CACHE C REF: the HF cache holds REF's files at commit C: relative
# snapshot links to blobs with the exact bytes, refs/main = C.
hf_ok() {
    _v=$(cver "$2"); _r="$1/models--org--crash"
    case $3 in */weights.bin) _l=weights.bin ;; */tok.bin) _l=tok.bin ;;
    *) _l="config.json tok.bin weights.bin" ;; esac
    [ "$(cat "$_r/refs/main" 2>/dev/null)" = "$2" ] || { diag "refs/main is not $2"; return 1; }
    for _p in $_l; do
        _t=$(readlink "$_r/snapshots/$2/$_p") || { diag "no snapshot link $_p"; return 1; }
        case $_t in /*) diag "absolute link $_t"; return 1 ;; esac
        [ "$(sha256 "$_r/snapshots/$2/$_p")" = "$(want_sha $_p $_v)" ] || { diag "wrong bytes: $_p"; return 1; }
    done
}
ready_and_hf() { exact_ready "$1" "$2" "$3" && hf_ok "$4" "$2" "$5"; }

for point in $POINTS; do
    i=1
    while [ $i -le $RUNS ]; do
        v=$(( (i - 1) % 5 ))
        case $v in
        0) ref=hf:org/crash/weights.bin; what="LFS file, first pull"; nf=1 ;;
        1) ref=hf:org/crash/tok.bin; what="regular file, first pull"; nf=1 ;;
        2) ref=hf:org/crash; what="snapshot, first pull"; nf=3 ;;
        3) ref=hf:org/crash; what="snapshot, re-pull of a ready entry after main moved"; nf=3 ;;
        4) ref=hf:org/crash/weights.bin; what="LFS file, re-pull of a ready entry after main moved"; nf=1 ;;
        esac
        case $point in
        resolve) n=1 ;;
        mid-chunk) n=$i ;;
        catalog-write) n=$(( 1 + i % 2 )) ;;
        *) n=$(( 1 + i % nf )) ;;
        esac
        AP_HOME="$TMP/home-$point-$i"; export AP_HOME
        HFC="$TMP/hfc-$point-$i"
        pub=; [ $point = publish-copy ] && pub="--hf-cache=$HFC"
        want=$C1
        write_cfg $C1
        if [ $v -ge 3 ]; then
            "$APCTL" pull --quiet $pub "$ref" > /dev/null 2> "$TMP/pre.err" ||
                diag "setup pull of $ref failed: $(cat "$TMP/pre.err")"
            write_cfg $C2
            want=$C2
        fi
        label="$point:$n #$i ($what)"
        AP_FAULT_KILL_AT="$point:$n" "$FAPCTL" pull --quiet --max-attempts 2 $pub "$ref" \
            > /dev/null 2> "$TMP/kill.err"
        rc=$?
        check "$label: killed by SIGKILL at the point (status $rc)" \
            sh -c "[ $rc -eq 137 ] && grep -q 'ap-fault: SIGKILL at $point:$n\$' '$TMP/kill.err'"
        [ $rc -eq 137 ] || diag "$(cat "$TMP/kill.err")"
        check "$label: after the kill, no corrupt blob and no false ready" store_ok
        check "$label: after the kill, apctl verify is clean" verify_ok
        timeout 60 "$APCTL" pull --json $pub "$ref" > "$TMP/re.json" 2> "$TMP/re.err"
        rc=$?
        check "$label: rerun without the hook exits 0" [ $rc -eq 0 ]
        [ $rc -eq 0 ] || diag "$(cat "$TMP/re.err")"
        if [ $point = publish-copy ]; then
            check "$label: rerun ends ready with the exact bytes, HF cache complete" \
                ready_and_hf "$TMP/re.json" $want $nf "$HFC" "$ref"
        else
            check "$label: rerun ends ready with the exact bytes" exact_ready "$TMP/re.json" $want $nf
        fi
        check "$label: after the rerun, store invariants hold" store_ok
        check "$label: after the rerun, apctl verify is clean" verify_ok
        rm -rf "$AP_HOME" "$HFC"
        i=$((i + 1))
    done
done
done_testing
