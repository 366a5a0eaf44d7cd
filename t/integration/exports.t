#!/bin/sh
# The shared library exports exactly the symbols of lib/exports.txt, each in
# its version node; the version script names them explicitly; soname.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 10
# The library the build links (.so.0 -> .so.0.x.y), not an older version left in the build tree.
so="$AP_BUILD/$(readlink "$AP_BUILD/libartifactprov.so.0")"
map="$AP_SRC/lib/libartifactprov.map"
sh "$AP_SRC/lib/exports.sh" "$so" > "$TMP/built"
if diff -u "$AP_SRC/lib/exports.txt" "$TMP/built" > "$TMP/diff"; then
    ok "exports equal lib/exports.txt ($(wc -l < "$TMP/built") symbols)"
else
    not_ok "exports differ from lib/exports.txt (- committed, + built; run 'make exports' if deliberate)"
    diag "$(cat "$TMP/diff")"
fi
awk '{print $1}' "$TMP/built" > "$TMP/syms"
bad=$(grep -v '^ap_' "$TMP/syms" || true)
if [ -z "$bad" ]; then ok "only ap_ symbols exported"
else not_ok "non-ap_ symbols exported"; diag "$bad"; fi
check "internal apx_ helpers are hidden" sh -c "! grep -q '^apx_' '$TMP/syms'"
unv=$(awk '$2 !~ /^ARTIFACTPROV_[0-9]+\.[0-9]+$/' "$TMP/built")
if [ -z "$unv" ]; then ok "every export is bound to an ARTIFACTPROV_x.y node"
else not_ok "exports without a release node"; diag "$unv"; fi
# The map: no glob in a global list, and every name it lists is defined
# (GNU ld silently ignores a listed symbol that does not exist).
check "version script has no ap_* glob" sh -c "! grep -Eq '^[[:space:]]*ap_[A-Za-z0-9_]*\\*' '$map'"
sed 's|/\*.*\*/||; /\/\*/,/\*\//d' "$map" | tr -d ' \t' | grep -E '^ap_[A-Za-z0-9_]+;$' |
    tr -d ';' | LC_ALL=C sort > "$TMP/listed"
missing=$(LC_ALL=C comm -23 "$TMP/listed" "$TMP/syms")
if [ -z "$missing" ]; then ok "every symbol the version script lists is defined ($(wc -l < "$TMP/listed"))"
else not_ok "version script lists symbols the library does not define"; diag "$missing"; fi
check "the sys/ declarations stay outside the umbrella header" sh -c \
    "! grep -Eq '^[[:space:]]*#[[:space:]]*include.*sys/' '$AP_SRC/include/artifactprov.h'"
# libsodium is linked for what it does best (docs/design-notes.md), not for
# one sodium_init: random temporary names and wiping secrets.
objdump -T "$so" | awk '/\*UND\*/ {print $NF}' > "$TMP/imports"
check "libsodium used for random names and wiping (randombytes_buf, sodium_memzero imported)" \
    sh -c "grep -qx randombytes_buf '$TMP/imports' && grep -qx sodium_memzero '$TMP/imports'"
check "soname is libartifactprov.so.0" sh -c \
    "objdump -p '$so' | grep -q 'SONAME *libartifactprov.so.0$'"
check ".so -> .so.0 -> .so.0.x.y chain" sh -c \
    "[ \"\$(readlink '$AP_BUILD/libartifactprov.so')\" = libartifactprov.so.0 ] && \
     [ \"\$(readlink '$AP_BUILD/libartifactprov.so.0')\" = '$(basename "$so")' ]"
done_testing
