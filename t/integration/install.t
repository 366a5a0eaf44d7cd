#!/bin/sh
# make install DESTDIR=…; the man pages are installed and render without
# warnings; an outside program built with pkg-config links and runs; a
# third-party vendor builds out of tree from the installed headers alone and
# is loaded; the installed apctl and apd link the installed shared library
# (NEEDED its soname) and run from DESTDIR with it alone; make uninstall
# removes everything.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 17
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
# The tools are linked against the shared library: NEEDED names its
# soname, and what the dynamic loader picks is the installed copy (runpath
# $ORIGIN/../lib), with no LD_LIBRARY_PATH and the build tree out of reach.
SO=$(readelf -d "$L/libartifactprov.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
for tl in apctl apd; do
    check "installed $tl: NEEDED $SO (readelf -d)" sh -c \
      "[ -n '$SO' ] && readelf -d '$D/usr/local/bin/$tl' | grep -q '(NEEDED).*\\[$SO\\]'"
done
got=$(env -u LD_LIBRARY_PATH ldd "$D/usr/local/bin/apctl" | awk -v so="$SO" '$1 == so {print $3}')
check "installed apctl resolves $SO to the installed library (ldd: $got)" sh -c \
  "[ -n '$got' ] && [ \"\$(realpath '$got')\" = \"\$(realpath '$L/$SO')\" ]"
env -u LD_LIBRARY_PATH AP_VENDOR_PATH="$L/artifactprov/vendors" \
    "$D/usr/local/bin/apctl" vendors > "$TMP/vendors.out" 2>&1
check "installed apctl runs from DESTDIR and loads the installed vendors" \
    grep -q "^huggingface .*($L/artifactprov/vendors/ap-vendor-huggingface.so)" "$TMP/vendors.out"
[ $? -eq 0 ] || diag "$(cat "$TMP/vendors.out")"
env -u LD_LIBRARY_PATH "$D/usr/local/bin/apd" --listen 127.0.0.1:0 --port-file "$TMP/apd.port" \
    --home "$TMP/apd-home" > "$TMP/apd.log" 2>&1 &
APD=$!
i=0
while [ ! -s "$TMP/apd.port" ] && kill -0 $APD 2>/dev/null && [ $i -lt 500 ]; do
    sleep 0.01; i=$((i + 1))
done
code=000
[ -s "$TMP/apd.port" ] && code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$TMP/apd.port")/healthz")
stop_pids "$APD"
check "installed apd runs from DESTDIR and answers /healthz (HTTP $code)" [ "$code" = 200 ]
[ "$code" = 200 ] || diag "$(cat "$TMP/apd.log")"
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
