#!/bin/sh
# Print the dynamic symbols a shared library defines, one per line as
# "<symbol> <version node>" ("-" when unversioned), sorted: the format of
# lib/exports.txt.  The version-node symbols themselves are left out.
# Usage: lib/exports.sh build/libartifactprov.so.X.Y.Z
# Used by `make exports` (regenerates lib/exports.txt after a deliberate
# change of the exported symbols) and t/integration/exports.t (compares).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 LIBRARY" >&2; exit 2; }
nm -D --defined-only "$1" | awk '
    $2 == "A" { next }                       # version definitions
    {
        n = $NF; v = "-"
        if ((i = index(n, "@")) > 0) { v = substr(n, i); n = substr(n, 1, i - 1)
                                       sub(/^@+/, "", v) }
        print n, v
    }' | LC_ALL=C sort -u
