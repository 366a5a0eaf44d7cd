#!/bin/sh
# `make check-scale`: reading a catalog entry of 100,000 files stays cheap
# (issue 12: `apctl ls` and `show` of such an entry under a second).  No
# pull: t/helpers/catalog_entry.py lays down the document a pull of a
# 100,000-file snapshot writes (hf:org/many, ~53 MB), then `apctl ls`,
# `show` and `show --json` of it run under CPU-second limits (`ulimit -t`,
# a resource bound, never wall time): 2 s for ls and show, 3 s for show
# --json.  Measured on the 2-core machine: 0.5-0.8 CPU s for ls and show,
# about 1.2 for show --json; before the catalog's own JSON reader and
# writer (jansson's value tree) 2.8, 3.0 and 8.1 CPU s, so each check
# failed.  AP_CATALOG_FILES=N runs another size.  About 10 s.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 4
N=${AP_CATALOG_FILES:-100000}
DOC=$(python3 "$AP_SRC/t/helpers/catalog_entry.py" "$AP_HOME" "$N")
check "a $N-file entry laid down ($(wc -c < "$DOC") bytes)" [ -s "$DOC" ]

( ulimit -t 2; "$APCTL" ls > "$TMP/ls" 2> "$TMP/err" )
check "apctl ls lists it within 2 CPU seconds" grep -q "hf:org/many *(${N} files" "$TMP/ls"
diag "$(head -2 "$TMP/ls") $(cat "$TMP/err")"
( ulimit -t 2; "$APCTL" show hf:org/many > "$TMP/show" 2> "$TMP/err" )
check "apctl show lists its $N files within 2 CPU seconds" \
    [ "$(grep -c '^  d[0-9]*/f[0-9]*\.txt ' "$TMP/show")" -eq "$N" ]
diag "$(head -2 "$TMP/show") $(cat "$TMP/err")"
( ulimit -t 3; "$APCTL" show --json hf:org/many > "$TMP/show.json" 2> "$TMP/err" )
check "apctl show --json of it within 3 CPU seconds parses, $N files ready, as stored" \
    python3 -c "
import json, sys
e, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
sys.exit(not (len(e['files']) == $N and all(f['status'] == 'ready' for f in e['files'])
              and e == d))" "$TMP/show.json" "$DOC"
diag "$(cat "$TMP/err")"
done_testing
