#!/bin/sh
# apctl scan --dry-run (ap_provisioner_scan_opts with AP_SCAN_DRY_RUN): says
# what a scan would import — one line per entry with its files and size —
# and stores nothing: no blob, no entry; unsafe items are still reported.
# The real scan that follows imports exactly what the dry run announced.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 9
C1=1212121212121212121212121212121212121212
gen_bytes 300000 81 > "$TMP/w.bin"
printf '{"hidden_size": 64}' > "$TMP/config.json"
W=$(sha256 "$TMP/w.bin")
GIT=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$TMP/config.json")
H="$TMP/hfc"
R="$H/models--org--r"
mkdir -p "$R/blobs" "$R/snapshots/$C1" "$R/refs"
printf '%s' "$C1" > "$R/refs/main"
cp "$TMP/w.bin" "$R/blobs/$W"
ln -s "../../blobs/$W" "$R/snapshots/$C1/w.bin"
cp "$TMP/config.json" "$R/blobs/$GIT"
ln -s "../../blobs/$GIT" "$R/snapshots/$C1/config.json"
mkfifo "$R/snapshots/$C1/pipe.bin"        # never opened, reported as skipped
blobs() { find "$AP_HOME/blobs" -type f 2> /dev/null | wc -l; }

timeout 20 "$APCTL" scan --dry-run --hf-cache="$H" > "$TMP/o" 2> "$TMP/e"
rc=$?
diag "$(cat "$TMP/o" "$TMP/e")"
check "scan --dry-run exits 0" [ $rc -eq 0 ]
check "... one 'would import' line for the snapshot, with its 2 files" \
    grep -q "would import hf:org/r@$C1: 2 files" "$TMP/o"
check "... the counts say 'would be imported'" grep -q "2 files .* would be imported" "$TMP/o"
check "... the FIFO is reported as skipped" grep -q "pipe.bin" "$TMP/e"
check "... no blob was stored" [ "$(blobs)" -eq 0 ]
"$APCTL" ls > "$TMP/ls" 2>&1
check "... and no entry written" sh -c "! grep -q 'org/r' '$TMP/ls'"

timeout 20 "$APCTL" scan --hf-cache="$H" > "$TMP/o2" 2> "$TMP/e2"
rc=$?
diag "$(cat "$TMP/o2")"
check "the real scan imports the two files announced" \
    sh -c "[ $rc -eq 0 ] && grep -q '1 entry, 2 files .* imported' '$TMP/o2'"
check "... two blobs stored" [ "$(blobs)" -eq 2 ]
check "... the bytes are the cache's" cmp "$TMP/w.bin" "$AP_HOME/blobs/sha256/$(echo "$W" | cut -c1-2)/$W"
