#!/bin/sh
# A repository recorded by `apctl sync` and later pulls of its files are ONE
# catalog entry whose files change status: sync hf:org/repo -> one pending
# entry; pull hf:org/repo/x -> still one entry, x ready, the other big file
# pending; pull the rest -> the same entry ready.  `apctl path` and `apctl
# show` find the entry by the file's reference (REF/FILE) and print that
# file's path; the bytes on disk are the origin's; verify is clean.
# (Both .gguf are above the 10 MB a sync fetches.)
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 23
C1=0123456789012345678901234567890123456789

field() { json_get "$1" "[x['$3'] for x in j['files'] if x['name']=='$2'][0]" 2>/dev/null; }

S="$TMP/src"
mkdir -p "$S"
gen_bytes 11000000 31 > "$S/a.gguf"
gen_bytes 12000000 32 > "$S/b.gguf"
printf '{"architectures": ["X"]}' > "$S/config.json"
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/repo": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"source": "$S/config.json"},
     "a.gguf": {"generate": {"size": 11000000, "seed": 31}, "lfs": true},
     "b.gguf": {"generate": {"size": 12000000, "seed": 32}, "lfs": true}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

"$APCTL" sync --json hf:org/repo > "$TMP/s.json" 2> "$TMP/err"
check "apctl sync exits 0" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
ID=$(json_get "$TMP/s.json" 'j["id"]' 2>/dev/null)
"$APCTL" ls --json > "$TMP/ls1.json" 2>&1
check "after sync: one entry, pending" \
    [ "$(json_get "$TMP/ls1.json" '" ".join([str(len(j))] + [e["status"] for e in j])' 2>/dev/null)" = "1 pending" ]

"$APCTL" pull --json hf:org/repo/a.gguf > "$TMP/pa.json" 2> "$TMP/err"
check "pull hf:org/repo/a.gguf exits 0" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
"$APCTL" ls --json > "$TMP/ls2.json" 2>&1
check "after the file pull: still ONE entry in apctl ls" [ "$(json_get "$TMP/ls2.json" 'len(j)' 2>/dev/null)" = 1 ]
check "it is the synced entry (same id)" [ "$(json_get "$TMP/ls2.json" 'j[0]["id"]' 2>/dev/null)" = "$ID" ]
check "the pull returned that entry" [ "$(json_get "$TMP/pa.json" 'j["id"]' 2>/dev/null)" = "$ID" ]
check "its a.gguf is ready" [ "$(field "$TMP/pa.json" a.gguf status) $(field "$TMP/pa.json" a.gguf present)" = "ready True" ]
check "its b.gguf is still pending, not present" [ "$(field "$TMP/pa.json" b.gguf status) $(field "$TMP/pa.json" b.gguf present)" = "pending False" ]
check "config.json (fetched by the sync) stays ready" [ "$(field "$TMP/pa.json" config.json status)" = ready ]
check "the entry is pending (b.gguf missing)" [ "$(json_get "$TMP/pa.json" 'j["status"]' 2>/dev/null)" = pending ]
check "a.gguf bytes on disk" cmp -s "$(field "$TMP/pa.json" a.gguf path)" "$S/a.gguf"
check "b.gguf never fetched" [ "$(count_log '("b.gguf" in r["path"] or "'"$(sha256 "$S/b.gguf")"'" in r["path"]) and r["bytes"]>0')" -eq 0 ]
P=$("$APCTL" path hf:org/repo/a.gguf 2> "$TMP/err")
check "apctl path hf:org/repo/a.gguf (entry pending) prints a.gguf's path" sh -c \
    "[ -n '$P' ] && [ '$P' = '$(field "$TMP/pa.json" a.gguf path)' ] && cmp -s '$P' '$S/a.gguf'"
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
"$APCTL" path hf:org/repo/b.gguf > /dev/null 2>&1
check "apctl path of the pending b.gguf fails" [ $? -ne 0 ]
HF_ENDPOINT=http://127.0.0.1:1 "$APCTL" pull hf:org/repo/a.gguf > "$TMP/off.out" 2> "$TMP/err"
check "origin unreachable: the pull of a.gguf is served from the pending entry (exit 0)" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "... printing a.gguf's path only, with its bytes" sh -c \
    "[ \$(wc -l < '$TMP/off.out') -eq 1 ] && cmp -s \"\$(cat '$TMP/off.out')\" '$S/a.gguf'"
"$APCTL" ls --json > "$TMP/ls2b.json" 2>&1
check "... and the catalog still holds one entry, pending, b.gguf pending" \
    [ "$(json_get "$TMP/ls2b.json" '" ".join([str(len(j)), j[0]["status"]] + [f["status"] for f in j[0]["files"] if f["name"]=="b.gguf"])' 2>/dev/null)" = "1 pending pending" ]
"$APCTL" show --json hf:org/repo/a.gguf > "$TMP/show.json" 2>&1
check "apctl show hf:org/repo/a.gguf shows the entry" [ "$(json_get "$TMP/show.json" 'j["id"]' 2>/dev/null)" = "$ID" ]

"$APCTL" pull --json hf:org/repo/b.gguf > "$TMP/pb.json" 2> "$TMP/err"
check "pull hf:org/repo/b.gguf exits 0" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
"$APCTL" ls --json > "$TMP/ls3.json" 2>&1
check "then: one entry, the same, ready, every file ready" \
    [ "$(json_get "$TMP/ls3.json" '" ".join([str(len(j)), j[0]["id"], j[0]["status"]] + sorted(set(f["status"] for f in j[0]["files"])))' 2>/dev/null)" = "1 $ID ready ready" ]
check "b.gguf bytes on disk" cmp -s "$(field "$TMP/pb.json" b.gguf path)" "$S/b.gguf"
P=$("$APCTL" path hf:org/repo/b.gguf 2>/dev/null)
check "apctl path hf:org/repo/b.gguf prints b.gguf's path" sh -c "[ -n '$P' ] && cmp -s '$P' '$S/b.gguf'"
"$APCTL" verify > "$TMP/v.out" 2>&1
check "apctl verify is clean" [ $? -eq 0 ]
[ $? -eq 0 ] || diag "$(cat "$TMP/v.out")"
done_testing
