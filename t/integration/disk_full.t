#!/bin/sh
# Disk full (docs/TESTING.md): AP_HOME on a 4 MiB tmpfs made by the test
# (as root), or, where mount is not permitted, under RLIMIT_FSIZE
# (`ulimit -f`, SIGXFSZ ignored) — the first diag line says which ran.
# A pull that does not fit — size known (preflight), size unknown (chunked
# body, fills the file system) — ends in a clear AP_ENOSPC-class error
# naming the reference, never a crash; what was stored earlier stays ready
# and verify is clean; the failed download's staging space is freed (a
# download of unknown size cannot be resumed), so a pull that fits
# succeeds afterwards.  AP_DISK_FULL_MODE=rlimit forces the fallback.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 17
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "keep.bin": {"generate": {"size": 600000, "seed": "keep"}},
  "big.bin": {"generate": {"size": 6000000, "seed": "big"}},
  "endless.bin": {"generate": {"size": 6000000, "seed": "endless"},
                  "faults": {"no_length": true, "no_ranges": true, "methods": ["GET", "HEAD"]}},
  "fits.bin": {"generate": {"size": 1500000, "seed": "fits"}}}}
JSON
for f in keep big endless fits; do
    gen_bytes $(jq -r ".files[\"$f.bin\"].generate.size" "$TMP/cfg.json") $f > "$TMP/$f.bin"
done
FS="$TMP/fs"
mkdir -p "$FS"
MODE=
if [ "${AP_DISK_FULL_MODE:-}" != rlimit ] && [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=4m,mode=0755 tmpfs "$FS" 2> /dev/null; then
    MODE=tmpfs
    trap 'umount "$FS" 2> /dev/null; cleanup' EXIT INT TERM
    diag "disk full by a 4 MiB tmpfs at $FS"
else
    MODE=rlimit
    trap '' XFSZ
    ulimit -f 4096        # 4096 blocks of 512 bytes = 2 MiB per file
    diag "mount not permitted: disk full by RLIMIT_FSIZE (ulimit -f 4096, SIGXFSZ ignored)"
fi
AP_HOME="$FS/home"; export AP_HOME
start_hub "$TMP/cfg.json"

KEEP="$FILES/files/keep.bin#sha256=$(sha256 "$TMP/keep.bin")"
BIG="$FILES/files/big.bin#sha256=$(sha256 "$TMP/big.bin")"
ENDLESS="$FILES/files/endless.bin"
FITS="$FILES/files/fits.bin#sha256=$(sha256 "$TMP/fits.bin")"
OPTS="--max-attempts 2 --stall-timeout 2000"

"$APCTL" pull --quiet $OPTS "$KEEP" > /dev/null 2> "$TMP/err"
check "a first pull that fits succeeds" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
keep_ok() {
    p=$("$APCTL" path "$KEEP" 2> /dev/null) && [ "$(sha256 "$p")" = "$(sha256 "$TMP/keep.bin")" ] &&
    [ "$("$APCTL" show --json "$KEEP" 2> /dev/null | jq -r .status)" = ready ] &&
    timeout 60 "$APCTL" verify > /dev/null 2>&1
}
staging_bytes() { du -sb "$AP_HOME/staging" 2> /dev/null | cut -f1; }
# clear_enospc STATUS REF NAME: non-zero status below 128 (no crash), a
# message naming the reference and saying the space ran out.
clear_enospc() {
    diag "status $1: $(cat "$TMP/err")"
    [ "$1" -ne 0 ] && [ "$1" -lt 124 ] && grep -qF -- "$3" "$TMP/err" &&
    grep -qiE 'space|ENOSPC|too large|file size limit' "$TMP/err"
}

# --- size known: more than the file system holds -----------------------------
timeout 60 "$APCTL" pull $OPTS "$BIG" > /dev/null 2> "$TMP/err"
rc=$?
check "size known, too big: clear no-space error naming it, no crash" clear_enospc $rc "$BIG" big.bin
check "  ... what was stored earlier is still ready, exact, verify clean" keep_ok
check "  ... the catalog does not call it ready" sh -c \
    "! '$APCTL' show --json '$BIG' 2> /dev/null | jq -e '.status == \"ready\"' > /dev/null"
diag "staging after it: $(staging_bytes) bytes"
check "  ... its staging data is less than 1 MiB" [ "$(staging_bytes)" -lt 1048576 ]
timeout 60 "$APCTL" pull --quiet $OPTS "$FITS" > /dev/null 2> "$TMP/err"
check "  ... then a pull that fits succeeds" [ $? -eq 0 ]
check "  ... with the exact bytes" sh -c \
    "[ \"\$(sha256sum < \"\$('$APCTL' path '$FITS')\" | cut -d' ' -f1)\" = '$(sha256 "$TMP/fits.bin")' ]"
"$APCTL" rm "$FITS" > /dev/null 2>&1
check "  ... and rm frees it again" [ $? -eq 0 ]

# --- size unknown (chunked, no Content-Length): fills the file system ---------
timeout 60 "$APCTL" pull $OPTS "$ENDLESS" > /dev/null 2> "$TMP/err"
rc=$?
check "size unknown, fills the disk: clear no-space error naming it, no crash" clear_enospc $rc "$ENDLESS" endless.bin
check "  ... what was stored earlier is still ready, exact, verify clean" keep_ok
check "  ... the catalog does not call it ready" sh -c \
    "! '$APCTL' show --json '$ENDLESS' 2> /dev/null | jq -e '.status == \"ready\"' > /dev/null"
diag "staging after it: $(staging_bytes) bytes"
check "  ... its staging data is freed at once (unknown size: not resumable)" [ "$(staging_bytes)" -lt 1048576 ]
timeout 60 "$APCTL" pull --quiet $OPTS "$FITS" > /dev/null 2> "$TMP/err"
rc=$?
check "  ... then a pull that fits succeeds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
check "  ... with the exact bytes" sh -c \
    "p=\$('$APCTL' path '$FITS' 2>/dev/null) && [ \"\$(sha256sum < \"\$p\" | cut -d' ' -f1)\" = '$(sha256 "$TMP/fits.bin")' ]"

# --- and the store is still consistent ----------------------------------------
timeout 60 "$APCTL" gc > "$TMP/gc" 2>&1
check "gc exits 0" [ $? -eq 0 ]
check "what was stored earlier is still ready and exact after gc" keep_ok
timeout 60 "$APCTL" verify > "$TMP/vf" 2>&1
check "verify is clean at the end" [ $? -eq 0 ]
diag "$(cat "$TMP/vf")"
done_testing
