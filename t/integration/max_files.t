#!/bin/sh
# The file-count limit (max_files, no limit by default -- many_files.t
# pulls 5,000 files with default options; apctl pull --max-files N)
# is checked right after resolve and filtering, before any lock is taken or
# catalog document written; the message has the count, the limit and the
# option that raises it.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 9
C1=1111111111111111111111111111111111111111
python3 - "$TMP/cfg.json" <<PY
import json, sys
big = {f"d/f{i:05d}.txt": {"content": str(i)} for i in range(4097)}
six = {f"f{i}.txt": {"content": str(i)} for i in range(6)}
json.dump({"repos": {"org/big": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": big}}},
                     "org/six": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": six}}}}},
          open(sys.argv[1], "w"))
PY
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
no_trace() {   # nothing written for the entry: no document, no lock file
    [ -z "$(ls "$AP_HOME/catalog" 2>/dev/null | grep -v '^\.')" ] &&
    [ -z "$(ls "$AP_HOME/locks" 2>/dev/null | grep huggingface)" ]
}
"$APCTL" pull --max-files 4096 hf:org/big > /dev/null 2> "$TMP/err"
check "4097 files: refused by --max-files 4096 (exit 3)" [ $? -eq 3 ]
check "... the message has the count, the limit and the option" \
    sh -c "grep -q 'hf:org/big: 4097 files, more than the limit of 4096' '$TMP/err' && grep -q -- '--max-files' '$TMP/err'"
diag "$(cat "$TMP/err")"
check "... before anything was written" no_trace
"$APCTL" pull --max-files 5 hf:org/six > /dev/null 2> "$TMP/err"
check "--max-files 5 refuses 6 files (exit 3)" [ $? -eq 3 ]
check "... naming both numbers" grep -q 'hf:org/six: 6 files, more than the limit of 5' "$TMP/err"
check "... before anything was written" no_trace
"$APCTL" pull --max-files 6 --quiet hf:org/six 2> "$TMP/err"
check "--max-files 6 takes them" [ $? -eq 0 ]
"$APCTL" pull --max-files 5 --include 'f[0-4].txt' --quiet hf:org/six 2> "$TMP/err"
check "the limit counts the files left after --include/--exclude" [ $? -eq 0 ]
diag "$(cat "$TMP/err")"
"$APCTL" verify > /dev/null 2>&1
check "verify is clean" [ $? -eq 0 ]
done_testing
