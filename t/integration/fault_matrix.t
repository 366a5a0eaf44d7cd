#!/bin/sh
# Fault matrix (docs/TESTING.md): 13 faults of a hostile or broken server
# x (single file, snapshot) x 5 runs, all through apctl against the fake hub
# (t/fixtures/README.md lists the faults).  Each run first removes the
# target entries, so the pull really goes to the server.  The "times" of a
# fault changes from run to run (1, 1000, 2, 1000, 1) against
# --max-attempts 3, so retries succeed in some runs and cannot in others.
# For every run:
#   - the result is the exact bytes (status 0, "ready", every file's sha256
#     right) or a clear error (status non-zero, a line naming the reference,
#     no raw escape byte on the terminal);
#   - the catalog agrees (apctl show --json: ready with the same digests
#     after a success, not ready after an error);
#   - nothing stored earlier changed: hf:org/keep, pulled at the start,
#     stays ready with the same blobs;
#   - nothing is written outside AP_HOME (hostile names).
# Some rows also demand an outcome: a fault that hits once must be
# retried into a success (drop, stall, 429, 503, truncation), a fault that
# never ends must end in an error.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
# FAULT_ROWS / FAULT_RUNS run a subset (for debugging one row).
ROWS=${FAULT_ROWS:-"drop stall trickle 429-api 503-file truncate wrong-bytes range-200 bad-content-range redirect-loop huge-headers malformed-json hostile-names"}
RUNS=${FAULT_RUNS:-5}
PER=5
plan $(($(echo $ROWS | wc -w) * RUNS * (2 * PER + 1) + 1))
C=3333333333333333333333333333333333333333
K=4444444444444444444444444444444444444444
EVIL="$TMP/evil-target"
# the bytes of every file, and their digests
python3 -c '
import hashlib, sys
d = sys.argv[1]
def gen(size, seed):
    out = bytearray(); i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest(); i += 1
    return bytes(out[:size])
for name, data in (("r.bin", gen(200000, "r")), ("w.bin", gen(600000, "w")),
                   ("k1.bin", gen(300000, "k1")), ("k2.bin", gen(5000, "k2")),
                   ("config.json", b"{\"a\": 1}"), ("ok.bin", gen(3000, "ok"))):
    open(d + "/" + name, "wb").write(data)
    print(hashlib.sha256(data).hexdigest(), name)' "$TMP" > "$TMP/sums"
sha_of() { awk -v n="$1" '$2 == n { print $1 }' "$TMP/sums"; }

# write_cfg FILE_FAULTS API_FAULTS EXTRA: org/m with those faults on r.bin
# and w.bin (regular and LFS) and on its API answers; org/h with hostile
# names; org/keep, clean.
write_cfg() {
    cat > "$TMP/cfg.tmp" <<JSON
{"repos": {
 "org/m": {"refs": {"main": "$C"}, $3 "api_faults": $2, "commits": {"$C": {"files": {
   "config.json": {"source": "$TMP/config.json"},
   "r.bin": {"generate": {"size": 200000, "seed": "r"}, "faults": $1},
   "w.bin": {"generate": {"size": 600000, "seed": "w"}, "lfs": true, "faults": $1}}}}},
 "org/h": {"refs": {"main": "$C"}, "commits": {"$C": {"files": {
   "ok.bin": {"source": "$TMP/ok.bin"},
   "q\"uote.txt": {"source": "$TMP/ok.bin"},
   "esc\u001b]0;pwn\u0007\u001b[31m.txt": {"source": "$TMP/ok.bin"},
   "../evil-target": {"source": "$TMP/ok.bin"},
   "sub/../../../evil-target": {"source": "$TMP/ok.bin", "lfs": true},
   "/abs/evil-target": {"source": "$TMP/ok.bin"}}}}},
 "org/keep": {"refs": {"main": "$K"}, "commits": {"$K": {"files": {
   "k1.bin": {"generate": {"size": 300000, "seed": "k1"}, "lfs": true},
   "k2.bin": {"generate": {"size": 5000, "seed": "k2"}}}}}}}}
JSON
    mv "$TMP/cfg.tmp" "$TMP/cfg.json"
}
write_cfg '{}' null ''
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
OPTS="--connections 2 --chunk-size 131072 --stall-timeout 700 --max-attempts 3"
MINRATE="--min-rate 20000 --min-rate-window 1000"

# --- something stored earlier ------------------------------------------------
"$APCTL" pull --quiet hf:org/keep > /dev/null 2> "$TMP/keep.err"
"$APCTL" show --json hf:org/keep > "$TMP/keep.json" 2>> "$TMP/keep.err"
check "hf:org/keep pulled first, ready" [ "$(jq -r .status "$TMP/keep.json" 2>/dev/null)" = ready ]
[ -s "$TMP/keep.err" ] && diag "$(cat "$TMP/keep.err")"
KEEP_WANT="ready k1.bin=$(sha_of k1.bin) k2.bin=$(sha_of k2.bin)"
keep_ok() {
    "$APCTL" show --json hf:org/keep > "$TMP/k.json" 2>&1 || { diag "$(cat "$TMP/k.json")"; return 1; }
    jq -r --arg b "$AP_HOME/blobs/sha256" '"\(.status) " + ([.files[] | "\(.name)=\(.sha256)"] | sort | join(" ")),
        (.files[] | "\(.sha256)  \(.path)", "\(.sha256)  \($b)/\(.sha256[0:2])/\(.sha256)")' \
        "$TMP/k.json" > "$TMP/k.sum"
    [ "$(head -n 1 "$TMP/k.sum")" = "$KEEP_WANT" ] || { diag "keep: $(head -n 1 "$TMP/k.sum")"; return 1; }
    sed 1d "$TMP/k.sum" | sha256sum -c --quiet --strict > "$TMP/k.out" 2>&1 || { diag "$(cat "$TMP/k.out")"; return 1; }
}

# exact JSON: ready, and every listed file has the right bytes at its path
# (file names we do not know the bytes of are an error).
exact() {
    jq -r '"\(.status) \(.files | length)", (.files[] | "\(.name)\t\(.path)")' "$1" > "$TMP/x.list" || return 1
    case $(head -n 1 "$TMP/x.list") in "ready 0"|"ready "*) ;; *) return 1 ;; esac
    [ "$(head -n 1 "$TMP/x.list")" != "ready 0" ] || return 1
    sed 1d "$TMP/x.list" | while IFS="$(printf '\t')" read -r _nm _p; do
        case $_nm in
        ok.bin|*uote.txt|esc*) _s=$(sha_of ok.bin) ;;
        *) _s=$(sha_of "$_nm") ;;
        esac
        echo "${_s:-unknown}  $_p"
    done > "$TMP/x.sum"
    sha256sum -c --quiet --strict "$TMP/x.sum" > "$TMP/x.out" 2>&1 || { diag "$(cat "$TMP/x.out")"; return 1; }
}
# clear_error STATUS REF: non-zero status, a line naming REF, no ESC byte.
clear_error() {
    [ "$1" -ne 0 ] && grep -qF -- "$2" "$TMP/err" && ! grep -q "$(printf '\033')" "$TMP/err"
}
# catalog_agrees STATUS REF
catalog_agrees() {
    "$APCTL" show --json "$2" > "$TMP/show.json" 2> /dev/null
    _src=$?
    if [ "$1" -eq 0 ]; then
        [ $_src -eq 0 ] &&
        [ "$(jq -c '[.status, ([.files[] | [.name, .sha256]] | sort)]' "$TMP/show.json")" = \
          "$(jq -c '["ready", ([.files[] | [.name, .sha256]] | sort)]' "$TMP/out.json")" ]
    else
        [ $_src -ne 0 ] || [ "$(jq -r .status "$TMP/show.json")" != ready ]
    fi
}
outside_clean() {
    _f=$(find "$TMP" /tmp/evil-target -name 'evil-target*' 2>/dev/null | head -3)
    [ -z "$_f" ] || { diag "written outside the store: $_f"; return 1; }
}

PREV=
for row in $ROWS; do
    r=1
    for times in $(echo 1 1000 2 1000 1 | cut -d' ' -f1-$RUNS); do
        T=", \"times\": $times"
        ff='{}'; af=null; extra=; once=any; always=any; lim=30; repo=org/m; cause=
        case $row in
        drop) ff="{\"drop_at\": 100000$T}"; once=ok; always=fail ;;
        stall) ff="{\"stall_at\": 50000, \"stall_secs\": 2$T}"; once=ok; always=fail ;;
        trickle) ff="{\"throttle_bps\": 3$T}"; always=fail; lim=3; cause='slower than|stall' ;;
        429-api) ff="{\"status\": 429, \"retry_after\": 1$T}"; af=$ff; once=ok; always=fail ;;
        503-file) ff="{\"status\": 503, \"retry_after\": 1$T}"; once=ok; always=fail ;;
        truncate) ff="{\"truncate_to\": 1000$T}"; once=ok; always=fail ;;
        wrong-bytes) ff="{\"corrupt_at\": 300$T}"; always=fail; cause='mismatch' ;;
        range-200) ff="{\"ignore_range\": true$T}" ;;
        bad-content-range) ff="{\"bad_content_range\": true$T}" ;;
        redirect-loop) extra='"renamed_to": "org/m",'; once=fail; always=fail; cause='redirect' ;;
        huge-headers) ff="{\"huge_headers\": 1048576$T}"; af=$ff; always=fail; cause='header' ;;
        malformed-json) ff="{\"malformed\": true$T}"; af=$ff; always=fail; cause='malformed JSON|truncated' ;;
        hostile-names) repo=org/h ;;
        esac
        write_cfg "$ff" "$af" "$extra"
        for shape in single snapshot; do
            if [ $repo = org/h ]; then
                if [ $shape = single ]; then ref='hf:org/h/q"uote.txt'; else ref=hf:org/h; fi
            elif [ $shape = single ]; then
                if [ $((r % 2)) -eq 1 ]; then ref=hf:org/m/w.bin; else ref=hf:org/m/r.bin; fi
            else
                ref=hf:org/m
            fi
            curl -s -X POST "$HUB/_admin/reset" > /dev/null
            # remove what the run before pulled (its blobs would be reused)
            [ -z "$PREV" ] || "$APCTL" rm "$PREV" > /dev/null 2>&1
            PREV=$ref
            t0=$(date +%s)
            # --preserve-status: apctl's own status, also when the limit's
            # SIGTERM lands as the pull ends (timeout alone says 124 even
            # when apctl finished and recorded the entry ready)
            timeout --preserve-status $lim "$APCTL" pull --json $OPTS $MINRATE "$ref" > "$TMP/out.json" 2> "$TMP/err"
            rc=$?
            label="$row x $shape #$r (times $times, $ref)"
            if [ $rc -eq 0 ] && exact "$TMP/out.json"; then
                got=ok
            elif clear_error $rc "$ref"; then
                got=fail
            else
                got=bad
            fi
            diag "$label: status $rc, $got, $(( $(date +%s) - t0 )) s: $(head -c 300 "$TMP/err" | tr '\033\007\n' '?? ')"
            check "$label: exact bytes or a clear error" [ $got != bad ]
            if [ $times = 1 ] && [ $once != any ]; then
                check "$label: a fault that hits once ends $once" [ $got = $once ]
            elif [ $times = 1000 ] && [ $always != any ]; then
                check "$label: a fault that never ends ends $always" [ $got = $always ]
            else
                check "$label: (no outcome demanded)" true
            fi
            if [ $got = fail ] && [ -n "$cause" ]; then
                check "$label: the error names the cause ($cause)" grep -qE "$cause" "$TMP/err"
            else
                check "$label: (no cause demanded)" true
            fi
            check "$label: the catalog agrees" catalog_agrees $rc "$ref"
            check "$label: nothing written outside AP_HOME" outside_clean
        done
        check "$row #$r: hf:org/keep, stored earlier, unchanged and still ready" keep_ok
        r=$((r + 1))
    done
done
done_testing
