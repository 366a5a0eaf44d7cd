#!/bin/sh
# A FIFO, a directory or a damaged document where a catalog document is
# expected never blocks apctl and never locks the user out: ls shows it as
# damaged (id + why), gc refuses but names it and says how to remove it,
# rm removes it by id, and the good entry stays usable throughout.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 14
gen_bytes 100000 5 > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
cat > "$TMP/cfg.json" <<JSON
{"files": {"a.bin": {"generate": {"size": 100000, "seed": 5}}}}
JSON
start_hub "$TMP/cfg.json"
REF="$FILES/files/a.bin#sha256=$A"
"$APCTL" pull --quiet "$REF" 2> "$TMP/err"
check "pull a file" [ $? -eq 0 ]
FIFO=url-00000000000000f1
BAD=url-00000000000000ba
mkfifo "$AP_HOME/catalog/$FIFO.json"
printf '{"format_version": 1, "id": ' > "$TMP/bad"
mv "$TMP/bad" "$AP_HOME/catalog/$BAD.json"
mkdir "$AP_HOME/catalog/url-00000000000000d1.json"

# the daemon lists the catalog too: it answers with the good entry
"$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" 2> "$TMP/apd.err" &
APD=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
code=$(curl -s -m 20 -o "$TMP/entries" -w '%{http_code}' "http://127.0.0.1:$(cat "$TMP/port")/v1/models")
check "apd GET /v1/models answers with a FIFO in the catalog" [ "$code" = 200 ]
check "... listing the good entry" grep -q '"ready"' "$TMP/entries"
kill -KILL $APD 2>/dev/null; wait $APD 2>/dev/null   # (before the fix it hangs)

# timeout: before the fix the FIFO hangs ls and gc forever
timeout 20 "$APCTL" ls > "$TMP/ls" 2>&1
check "ls returns with a FIFO in the catalog" [ $? -eq 0 ]
check "ls shows the FIFO as damaged, by id and why" \
    grep -q "^$FIFO  damaged .*not a regular file (FIFO)" "$TMP/ls"
check "ls shows the damaged document and how to remove it" \
    sh -c "grep -q '^$BAD  damaged .*bad JSON' '$TMP/ls' && grep -q 'apctl rm $BAD' '$TMP/ls'"
check "ls still lists the good entry as ready" grep -q " ready  url " "$TMP/ls"
[ -s "$TMP/ls" ] && diag "$(cat "$TMP/ls")"
timeout 20 "$APCTL" gc > "$TMP/gc" 2>&1
check "gc refuses while a document is damaged" [ $? -eq 1 ]
check "... and names a document and the way out" \
    sh -c "grep -q 'catalog/url-00000000000000' '$TMP/gc' && grep -q 'apctl rm url-00000000000000' '$TMP/gc'"
diag "$(cat "$TMP/gc")"
timeout 20 "$APCTL" path "$REF" > "$TMP/path" 2>&1
check "path of the good entry still answers" cmp -s "$(cat "$TMP/path")" "$TMP/a.bin"
ok_rm=0
for id in $FIFO $BAD url-00000000000000d1; do
    timeout 20 "$APCTL" rm "$id" > "$TMP/rm" 2>&1 || { ok_rm=1; diag "rm $id: $(cat "$TMP/rm")"; }
done
check "rm removes each damaged document by id" [ $ok_rm -eq 0 ]
check "... they are gone" sh -c "! ls '$AP_HOME/catalog' | grep -q 'url-00000000000000'"
timeout 20 "$APCTL" gc > "$TMP/gc" 2>&1
check "gc runs again afterwards" [ $? -eq 0 ]
diag "$(cat "$TMP/gc")"
"$APCTL" verify > "$TMP/verify" 2>&1
check "verify is clean and the good entry's blob is kept" \
    sh -c "grep -q '1 blob checked, 0 corrupt' '$TMP/verify'"
done_testing
