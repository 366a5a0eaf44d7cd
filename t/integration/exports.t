#!/bin/sh
# The shared library exports ap_* symbols only, and has the right soname.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 4
so=$(ls "$AP_BUILD"/libartifactprov.so.*.*.* | head -n 1)
nm -D --defined-only "$so" | awk '{print $3}' | sed 's/@.*//' | sort -u > "$TMP/syms"
bad=$(grep -v '^ap_' "$TMP/syms" | grep -v '^ARTIFACTPROV_' || true)
if [ -z "$bad" ]; then ok "only ap_ symbols exported ($(wc -l < "$TMP/syms") symbols)"
else not_ok "non-ap_ symbols exported"; diag "$bad"; fi
check "internal apx_ helpers are hidden" sh -c "! grep -q '^apx_' '$TMP/syms'"
check "soname is libartifactprov.so.0" sh -c \
    "objdump -p '$so' | grep -q 'SONAME *libartifactprov.so.0$'"
check ".so -> .so.0 -> .so.0.x.y chain" sh -c \
    "[ \"\$(readlink '$AP_BUILD/libartifactprov.so')\" = libartifactprov.so.0 ] && \
     [ \"\$(readlink '$AP_BUILD/libartifactprov.so.0')\" = '$(basename "$so")' ]"
done_testing
