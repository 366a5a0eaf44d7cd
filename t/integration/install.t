#!/bin/sh
# make install DESTDIR=…; the man pages are installed and render without
# warnings; an outside program built with pkg-config links and runs; a
# third-party vendor builds out of tree from the installed headers alone and
# is loaded; make uninstall removes everything.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 12
D="$TMP/dest"
MK="make -s -C $AP_SRC PREFIX=/usr/local DESTDIR=$D SANITIZE=${SANITIZE:-}"
check "make install DESTDIR" sh -c "$MK install >'$TMP/install.log' 2>&1"
L="$D/usr/local/lib"
check "installed .so chain, archive, headers, pc, vendors, apctl" sh -c "
  [ -L '$L/libartifactprov.so' ] && [ -L '$L/libartifactprov.so.0' ] &&
  [ -f '$L/libartifactprov.a' ] && [ -f '$D/usr/local/include/artifactprov.h' ] &&
  [ -f '$D/usr/local/include/artifactprov/vendor.h' ] &&
  [ -f '$L/pkgconfig/artifactprov.pc' ] &&
  [ -f '$L/artifactprov/vendors/ap-vendor-huggingface.so' ] &&
  [ -x '$D/usr/local/bin/apctl' ] &&
  [ -f '$D/usr/local/include/artifactprov/sys/store.h' ] &&
  [ -f '$D/usr/local/include/artifactprov/sys/tracker.h' ]"
M="$D/usr/local/share/man"
check "man pages installed: apctl(1), apd(8)" sh -c \
  "[ -f '$M/man1/apctl.1' ] && [ -f '$M/man8/apd.8' ]"
# groff -ww: every warning; -z: format, discard the output.  Any message on
# stderr (unknown macro, bad escape, ...) fails the check.
for pg in man1/apctl.1 man8/apd.8; do
    groff -man -ww -z "$M/$pg" > "$TMP/groff.out" 2>&1
    rc=$?
    check "$pg renders without warnings (groff -man -ww)" sh -c "[ $rc -eq 0 ] && [ ! -s '$TMP/groff.out' ]"
    if [ -s "$TMP/groff.out" ]; then diag "$(cat "$TMP/groff.out")"; fi
done
export PKG_CONFIG_PATH="$L/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
vd=$(pkg-config --variable=vendordir artifactprov)
# pkgconf prefixes variables with the sysroot, pkg-config 0.29 does not
check "pkg-config knows vendordir ($vd)" sh -c \
  "[ '$vd' = /usr/local/lib/artifactprov/vendors ] || [ '$vd' = '$D/usr/local/lib/artifactprov/vendors' ]"
SAN=
[ -n "${SANITIZE:-}" ] && SAN="-fsanitize=$SANITIZE"
check "outside program builds with pkg-config --cflags --libs" sh -c \
  "${CC:-cc} $SAN -std=c11 -Wall -Werror '$AP_SRC/examples/embed.c' \$(pkg-config --cflags --libs artifactprov) -o '$TMP/embed' 2>'$TMP/cc.log'"
cp -r "$AP_SRC/examples/vendor-template" "$TMP/tpl"
check "vendor template builds out of tree from installed headers" sh -c \
  "make -s -C '$TMP/tpl' >'$TMP/tpl.log' 2>&1 && [ -f '$TMP/tpl/ap-vendor-localdir.so' ]"
mkdir -p "$TMP/src"
head -c 300000 /dev/urandom > "$TMP/src/weights.bin"
printf '{"a": 1}\n' > "$TMP/src/config.json"
AP_VENDOR_PATH="$TMP/tpl" LD_LIBRARY_PATH="$L" "$TMP/embed" "localdir:$TMP/src" \
    > "$TMP/out" 2> "$TMP/err"
rc=$?
check "outside program provisions through the out-of-tree vendor" [ $rc -eq 0 ]
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
want=$(sha256 "$TMP/src/weights.bin")
got_path=$(awk -v h="$want" '$1 == h {print $2}' "$TMP/out")
check "stored bytes equal the source (sha256 $want)" sh -c \
  "[ -n '$got_path' ] && [ \"\$(sha256sum '$got_path' | cut -d' ' -f1)\" = '$want' ]"
check "progress events carried a job id" grep -q '^job [1-9][0-9]* done' "$TMP/err"
$MK uninstall >/dev/null 2>&1
left=$(find "$D" -type f -o -type l | head -n 5)
check "make uninstall removes every installed file" [ -z "$left" ]
[ -z "$left" ] || diag "$left"
done_testing
