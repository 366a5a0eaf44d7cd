#!/bin/sh
# Every public header compiles alone, pedantic, as C11 and as C++.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
hdrs="$AP_SRC/include/artifactprov.h $(ls "$AP_SRC"/include/artifactprov/*.h "$AP_SRC"/include/artifactprov/sys/*.h)"
n=0; for h in $hdrs; do n=$((n + 2)); done
plan $n
CXX=${CXX:-g++}
for h in $hdrs; do
    rel=${h#"$AP_SRC"/include/}
    printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$rel" "$rel" > "$TMP/h.c"
    check "$rel compiles alone as C11 (-pedantic -Werror)" \
        ${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror -I"$AP_SRC/include" -c "$TMP/h.c" -o "$TMP/h.o"
    cp "$TMP/h.c" "$TMP/h.cc"
    check "$rel compiles as C++ (-pedantic -Werror)" \
        $CXX -std=c++11 -pedantic -Wall -Wextra -Werror -I"$AP_SRC/include" -c "$TMP/h.cc" -o "$TMP/h.o"
done
done_testing
