#!/bin/sh
# Plugin trust through apctl: a vendor in a world-writable sticky directory
# (as /tmp, mode 1777), or a group-writable vendor file, is refused and
# named by `apctl vendors`; nothing from it runs (a pull of its scheme
# fails); the same plugin in a 0755 directory as a 0755 file loads.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 6
SO="$AP_BUILD/vendors/ap-vendor-url.so"

mkdir -p "$TMP/sticky" "$TMP/ok" "$TMP/gw"
cp "$SO" "$TMP/sticky/"; chmod 1777 "$TMP/sticky"; chmod 0755 "$TMP/sticky/ap-vendor-url.so"
AP_VENDOR_PATH="$TMP/sticky" "$APCTL" vendors > "$TMP/o1" 2> "$TMP/e1"
rc=$?
diag "$(cat "$TMP/e1")"
check "a vendor in a mode-1777 directory is not loaded" sh -c "[ $rc -ne 0 ] && ! grep -q '^url' '$TMP/o1'"
check "apctl vendors names the directory and why" \
    grep -q "refused: $TMP/sticky: refused: directory $TMP/sticky is writable by others (mode 1777)" "$TMP/e1"
AP_VENDOR_PATH="$TMP/sticky" "$APCTL" pull "http://127.0.0.1:9/x.bin" > /dev/null 2> "$TMP/e2"
check "a pull of its scheme finds no vendor" grep -q "no vendor serves the scheme 'http:'" "$TMP/e2"

cp "$SO" "$TMP/gw/"; chmod 0775 "$TMP/gw/ap-vendor-url.so"
AP_VENDOR_PATH="$TMP/gw" "$APCTL" vendors > "$TMP/o3" 2> "$TMP/e3"
diag "$(cat "$TMP/e3")"
check "a group-writable vendor file is refused, named" sh -c \
    "! grep -q '^url' '$TMP/o3' && grep -q '$TMP/gw/ap-vendor-url.so.*writable by group (mode 0775)' '$TMP/e3'"

cp "$SO" "$TMP/ok/"; chmod 0755 "$TMP/ok" "$TMP/ok/ap-vendor-url.so"
AP_VENDOR_PATH="$TMP/ok" "$APCTL" vendors > "$TMP/o4" 2> "$TMP/e4"
check "the same plugin in a 0755 directory loads" grep -q "^url .*($TMP/ok/ap-vendor-url.so)" "$TMP/o4"
check "and nothing is refused" [ ! -s "$TMP/e4" ]
done_testing
