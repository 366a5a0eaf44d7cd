#!/bin/sh
# apctl show --json and ls --json print the library's own catalog document
# (no jansson tree: an entry of 100,000 files, t/scale/catalog_read_100k.t),
# made ASCII as all of apctl's JSON is: a C1 control (U+009B, a terminal's
# CSI) or any other character beyond ASCII in an entry's strings goes out
# as \uXXXX, and reads back as the same string.  A document in the layout
# written before 0.5 (jansson's indentation) reads the same.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 6
mkdir -p "$AP_HOME/catalog"
python3 - "$AP_HOME/catalog" <<'PY'
import json, sys
d = sys.argv[1]
err = "caf\u00e9 \u009b[2J \U0001F600 \x1b]0;x\x07"
doc = {"format_version": 1, "id": "url-0000000000000001", "vendor": "url",
       "ref": "https://h/x", "name": "x", "revision": None, "status": "failed",
       "error": err, "total_size": 0, "done_bytes": 0, "fetched_bytes": 0,
       "created": 1, "updated": 2,
       "files": [{"name": "d\u00e9j\u00e0/\u009b.bin", "size": 3, "present": False,
                  "status": "failed"}]}
open(f"{d}/url-0000000000000001.json", "w").write(json.dumps(doc, ensure_ascii=False))
doc["id"], doc["ref"], doc["status"] = "url-0000000000000002", "https://h/y", "ready"
doc["files"] = []
open(f"{d}/url-0000000000000002.json", "w").write(json.dumps(doc, indent=2))
PY
"$APCTL" show --json url-0000000000000001 > "$TMP/show" 2> "$TMP/err"
check "show --json exits 0" [ $? -eq 0 ]
diag "$(cat "$TMP/err")"
check "show --json is ASCII, no control byte but newlines" \
    sh -c "! LC_ALL=C grep -q '[^ -~]' '$TMP/show'"
check "the C1 control and the emoji go out escaped" \
    grep -qi 'caf\\u00e9 \\u009b\[2J \\ud83d\\ude00 \\u001b\]0;x\\u0007' "$TMP/show"
check "and read back as the same strings" python3 -c "
import json, sys
e = json.load(open(sys.argv[1]))
sys.exit(not (e['error'] == 'caf\u00e9 \u009b[2J \U0001F600 \x1b]0;x\x07'
              and e['files'][0]['name'] == 'd\u00e9j\u00e0/\u009b.bin'))" "$TMP/show"
"$APCTL" ls --json > "$TMP/ls" 2> "$TMP/err"
check "ls --json: both entries (one in the pre-0.5 layout), ASCII" sh -c "
    ! LC_ALL=C grep -q '[^ -~]' '$TMP/ls' &&
    [ \"\$(jq -r 'map(.id) | sort | join(\" \")' '$TMP/ls')\" = 'url-0000000000000001 url-0000000000000002' ]"
diag "$(cat "$TMP/err" "$TMP/ls")"
check "ls --json of an empty catalog is []" sh -c "
    rm '$AP_HOME'/catalog/*.json && [ \"\$('$APCTL' ls --json)\" = '[]' ]"
done_testing
