#!/bin/sh
# A snapshot of 1,100 small files pulls under `ulimit -n 128`: a job holds
# a file's staging and blob locks only while that file is fetched and
# committed (a bounded batch at a time), never two descriptors per file of
# the entry; lock files nobody holds are removed.  Before, every lock of
# the entry was taken up front and the pull failed with EMFILE.  And
# max_files has no fixed cap: 5,000 files pass with default options, the
# option still refuses above its value.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 10
C1=1111111111111111111111111111111111111111
python3 - "$TMP/cfg.json" <<PY
import json, sys
mid = {f"d{i // 100:02d}/f{i:05d}.txt": {"content": f"file {i}\n"} for i in range(1100)}
big = {f"f{i:05d}.txt": {"content": f"big {i}\n"} for i in range(5000)}
json.dump({"repos": {"org/mid": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": mid}}},
                     "org/big": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": big}}}}},
          open(sys.argv[1], "w"))
PY
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

( ulimit -n 128; "$APCTL" pull --quiet hf:org/mid > "$TMP/out" 2> "$TMP/err" )
check "1,100 files pull under ulimit -n 128" [ $? -eq 0 ]
diag "$(tail -5 "$TMP/err")"
blobs() { find "$AP_HOME/blobs" -type f | wc -l; }
check "... 1,100 blobs on disk" [ "$(blobs)" -eq 1100 ]
check "... a sample has its bytes" \
    sh -c "[ \"\$(cat \"\$(\"$APCTL\" path hf:org/mid d07/f00777.txt)\")\" = 'file 777' ]"
check "... no lock file left in locks/" \
    [ -z "$(ls "$AP_HOME/locks" | grep -e '^stage-' -e '^blob-')" ]
diag "locks/: $(ls "$AP_HOME/locks" | wc -l) files"
( ulimit -n 128; "$APCTL" show hf:org/mid > "$TMP/show" 2> "$TMP/err" )
check "... show lists the 1,100 files" [ "$(grep -c '^  d[0-9]*/f[0-9]*\.txt ' "$TMP/show")" -eq 1100 ]

"$APCTL" pull --quiet --max-files 4999 hf:org/big > /dev/null 2> "$TMP/err"
check "5,000 files: --max-files 4999 refuses (exit 3)" [ $? -eq 3 ]
check "... naming both numbers and the option" \
    sh -c "grep -q 'hf:org/big: 5000 files, more than the limit of 4999' '$TMP/err' && grep -q -- '--max-files' '$TMP/err'"
( ulimit -n 128; "$APCTL" pull --quiet hf:org/big > /dev/null 2> "$TMP/err" )
check "5,000 files pass with default options (no fixed cap)" [ $? -eq 0 ]
diag "$(tail -5 "$TMP/err")"
check "... 6,100 blobs on disk" [ "$(blobs)" -eq 6100 ]
"$APCTL" verify > /dev/null 2>&1
check "verify is clean" [ $? -eq 0 ]
done_testing
