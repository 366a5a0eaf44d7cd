#!/bin/sh
# No include or call cycle between files (issue 13; docs/ARCHITECTURE.md):
# calls run one way in the library, in each tool and in each vendor.  A call
# cycle is found from the objects' symbols (nm): file A uses what file B
# defines and B, directly or not, uses what A defines.  The vendors are
# compiled here file by file (their .so is built in one step).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
L="$AP_SRC/t/helpers/layering.py"
# the objects of the sources there are (a build tree may keep stale ones)
objs() { for _s in "$@"; do _o="$AP_BUILD/${_s%.c}.o"; [ -f "$_o" ] && echo "$_o"; done; }
plan 5
cd "$AP_SRC" || exit 1
python3 "$L" includes lib include/artifactprov include/artifactprov/sys \
    vendors/* tools/* > "$TMP/inc" 2>&1
check "no include cycle in lib/, include/, vendors/, tools/" [ $? -eq 0 ]
cat "$TMP/inc"
python3 "$L" calls lib $(objs lib/*.c) > "$TMP/lib" 2>&1
check "no call cycle between the library's files" [ $? -eq 0 ]
cat "$TMP/lib"
python3 "$L" calls apctl $(objs tools/apctl/*.c tools/common/*.c) > "$TMP/apctl" 2>&1
check "no call cycle between apctl's files" [ $? -eq 0 ]
cat "$TMP/apctl"
python3 "$L" calls apd $(objs tools/apd/*.c tools/common/*.c) > "$TMP/apd" 2>&1
check "no call cycle between apd's files" [ $? -eq 0 ]
cat "$TMP/apd"
bad=0
for d in vendors/*/; do
    v=$(basename "$d")
    [ "$v" = common ] && continue
    mkdir -p "$TMP/v/$v"
    # one compiler run per vendor, objects named after their sources
    (cd "$TMP/v/$v" && ${CC:-cc} -std=c11 -D_GNU_SOURCE -I"$AP_SRC/include" \
        -O0 -w -c "$AP_SRC/$d"*.c) || bad=1
    python3 "$L" calls "$v" "$TMP/v/$v"/*.o >> "$TMP/vend" 2>&1 || bad=1
done
check "no call cycle between the files of each vendor" [ $bad -eq 0 ]
cat "$TMP/vend"
done_testing
