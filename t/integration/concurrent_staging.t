#!/bin/sh
# One writer per staging file: concurrent `apctl pull` processes that need
# the same file — a regular HF file known by its git blob id only, an LFS
# file, a plain URL without #sha256=, and a file reference together with a
# snapshot of the same repo (different entry ids) — against servers without
# range support (each GET rewrites the file from byte 0), end with the exact
# bytes and `apctl verify` clean.  Where the digest becomes known, the file
# is downloaded once: the others wait for the lock and find the blob.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 16
C1=1111111111111111111111111111111111111111
C2=2222222222222222222222222222222222222222
SZ=2000000
for s in 1 2 3 4; do gen_bytes $SZ $s > "$TMP/f$s.bin"; done
F='"faults": {"no_ranges": true, "throttle_bps": 2000000}'
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/a": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "reg.bin": {"generate": {"size": $SZ, "seed": 1}, $F},
     "lfs.bin": {"generate": {"size": $SZ, "seed": 2}, "lfs": true, $F}}}}},
  "org/b": {"refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
     "config.json": {"content": "{}"},
     "shared.bin": {"generate": {"size": $SZ, "seed": 4}, $F}}}}}},
 "files": {"plain.bin": {"generate": {"size": $SZ, "seed": 3}, $F}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# run_all NAME REF...: start one pull per REF at once, wait for all
run_all() {
    name=$1; shift
    pids=; k=0
    for r in "$@"; do
        k=$((k + 1))
        "$APCTL" pull --quiet "$r" > "$TMP/$name.$k.out" 2> "$TMP/$name.$k.err" &
        pids="$pids $!"
    done
    bad=0
    for pid in $pids; do wait $pid || bad=1; done
    [ $bad -eq 0 ] || diag "$(cat "$TMP/$name".*.err)"
    return $bad
}
verify_clean() {
    "$APCTL" verify > "$TMP/verify" 2>&1
    r=$?
    [ $r -eq 0 ] || diag "$(cat "$TMP/verify")"
    return $r
}
gets() { count_log "r['method'] == 'GET' and r['path'].split('?')[0].endswith('/$1')"; }

# three references, three entry ids (the entry lock does not order them)
R=hf:org/a/reg.bin
check "three pulls of a regular file (git id only, no ranges) succeed" \
    run_all reg $R hf:org/a@main/reg.bin hf:org/a@$C1/reg.bin
check "... the bytes are exact" cmp -s "$("$APCTL" path $R)" "$TMP/f1.bin"
check "... verify is clean" verify_clean
check "... downloaded once (the others waited and found the blob)" [ "$(gets reg.bin)" -eq 1 ]

R=hf:org/a/lfs.bin
check "three pulls of an LFS file succeed" \
    run_all lfs $R hf:org/a@main/lfs.bin hf:org/a@$C1/lfs.bin
check "... the bytes are exact" cmp -s "$("$APCTL" path $R)" "$TMP/f2.bin"
check "... verify is clean" verify_clean
check "... downloaded once" [ "$(gets lfs.bin)" -eq 1 ]

R="$FILES/files/plain.bin"   # (one entry id: its lock orders them too)
check "three pulls of a URL without a digest succeed" run_all plain "$R" "$R" "$R"
check "... the bytes are exact" cmp -s "$("$APCTL" path "$R")" "$TMP/f3.bin"
check "... verify is clean" verify_clean
check "... one blob for it" [ "$(find "$AP_HOME/blobs" -type f | wc -l)" -eq 3 ]

check "a file reference and a snapshot of the same repo at once succeed" \
    run_all snap hf:org/b/shared.bin hf:org/b hf:org/b/shared.bin
check "... the file reference has the exact bytes" \
    cmp -s "$("$APCTL" path hf:org/b/shared.bin)" "$TMP/f4.bin"
check "... so has the snapshot" cmp -s "$("$APCTL" path hf:org/b shared.bin)" "$TMP/f4.bin"
check "... verify is clean" verify_clean
done_testing
