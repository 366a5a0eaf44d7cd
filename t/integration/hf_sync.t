#!/bin/sh
# apctl sync hf:org/repo: every file recorded with its size and digest, only
# the small ones fetched; the big LFS file (12 MB) never requested from the
# CDN; the entry stays pending until a full pull, which then fetches it.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 23
C1=0123456789012345678901234567890123456789

field() { json_get "$1" "[x['$3'] for x in j['files'] if x['name']=='$2'][0]" 2>/dev/null; }
git_sha1() {
    python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"
}

S="$TMP/src"
mkdir -p "$S"
gen_bytes 12000000 12 > "$S/big.gguf"
gen_bytes 400000 smalllfs > "$S/tokenizer.model"
printf '{"architectures": ["X"]}' > "$S/config.json"
printf '{"eos_token": "</s>"}' > "$S/tokenizer_config.json"
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/big": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"source": "$S/config.json"},
     "tokenizer_config.json": {"source": "$S/tokenizer_config.json"},
     "tokenizer.model": {"source": "$S/tokenizer.model", "lfs": true},
     "big.gguf": {"generate": {"size": 12000000, "seed": 12}, "lfs": true}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
BIG=$(sha256 "$S/big.gguf")

"$APCTL" sync --json hf:org/big > "$TMP/s.json" 2> "$TMP/err"
rc=$?
check "apctl sync exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "sync records all four files" [ "$(json_get "$TMP/s.json" '" ".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null)" = \
    "big.gguf config.json tokenizer.model tokenizer_config.json" ]
check "big.gguf: size and sha256 recorded" [ "$(field "$TMP/s.json" big.gguf size) $(field "$TMP/s.json" big.gguf sha256)" = "12000000 $BIG" ]
check "big.gguf: not present" [ "$(field "$TMP/s.json" big.gguf present)" = False ]
check "tokenizer.model (small LFS): size and sha256 recorded, present" \
    [ "$(field "$TMP/s.json" tokenizer.model size) $(field "$TMP/s.json" tokenizer.model sha256) $(field "$TMP/s.json" tokenizer.model present)" = \
      "$(stat -c %s "$S/tokenizer.model") $(sha256 "$S/tokenizer.model") True" ]
check "config.json: size and git sha1 recorded, present" \
    [ "$(field "$TMP/s.json" config.json size) $(field "$TMP/s.json" config.json git_sha1) $(field "$TMP/s.json" config.json present)" = \
      "$(stat -c %s "$S/config.json") $(git_sha1 "$S/config.json") True" ]
check "config.json bytes on disk" cmp -s "$(field "$TMP/s.json" config.json path)" "$S/config.json"
check "tokenizer_config.json bytes on disk" cmp -s "$(field "$TMP/s.json" tokenizer_config.json path)" "$S/tokenizer_config.json"
check "tokenizer.model bytes on disk" cmp -s "$(field "$TMP/s.json" tokenizer.model path)" "$S/tokenizer.model"
check "total_size counts the big file too" [ "$(json_get "$TMP/s.json" 'j["total_size"]' 2>/dev/null)" = \
    "$((12000000 + $(stat -c %s "$S/tokenizer.model") + $(stat -c %s "$S/config.json") + $(stat -c %s "$S/tokenizer_config.json")))" ]
check "entry is not ready (pending until a full pull)" [ "$(json_get "$TMP/s.json" 'j["status"]' 2>/dev/null)" = pending ]
check "the CDN never saw a request for big.gguf's bytes" [ "$(count_log 'r["server"]=="cdn" and "'"$BIG"'" in r["path"]')" -eq 0 ]
check "no big.gguf body from anywhere (bytes sent)" [ "$(count_log '("big.gguf" in r["path"] or "'"$BIG"'" in r["path"]) and r["bytes"]>0')" -eq 0 ]
check "no big.gguf blob, no partial in staging" sh -c \
    "! find '$AP_HOME' -name '$BIG' | grep -q . && [ -z \"\$(find '$AP_HOME/staging' -type f -size +1000k 2>/dev/null | head -n 1)\" ]"

"$APCTL" show hf:org/big --json > "$TMP/show.json" 2>&1
check "show: the catalog has the four files, big.gguf not present" \
    [ "$(json_get "$TMP/show.json" 'str(len(j["files"]))+" "+str([f["present"] for f in j["files"] if f["name"]=="big.gguf"][0])' 2>/dev/null)" = "4 False" ]
"$APCTL" ls --json > "$TMP/ls.json" 2>&1
check "ls --json lists the synced entry" [ "$(json_get "$TMP/ls.json" 'sum(1 for e in j if e["ref"]=="hf:org/big")' 2>/dev/null)" = 1 ]

# a second sync: nothing fetched again
n_body=$(count_log 'r["bytes"]>0 and (r["server"]=="cdn" or "/resolve/" in r["path"])')
"$APCTL" sync --json hf:org/big > "$TMP/s2.json" 2> "$TMP/err"
rc=$?
check "second sync exits 0, fetches nothing" sh -c \
    "[ $rc -eq 0 ] && [ $(count_log 'r["bytes"]>0 and (r["server"]=="cdn" or "/resolve/" in r["path"])') -eq $n_body ]"

# the full pull then brings big.gguf, and only it
n_other=$(count_log 'r["server"]=="cdn" and r["bytes"]>0 and "'"$BIG"'" not in r["path"]')
"$APCTL" pull --json hf:org/big > "$TMP/p.json" 2> "$TMP/err"
rc=$?
check "full pull after sync exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "full pull: status ready, big.gguf bytes" sh -c \
    "[ '$(json_get "$TMP/p.json" 'j["status"]' 2>/dev/null)' = ready ] && cmp -s '$(field "$TMP/p.json" big.gguf path)' '$S/big.gguf'"
check "full pull: fetched_bytes is big.gguf's size only" [ "$(json_get "$TMP/p.json" 'j["fetched_bytes"]' 2>/dev/null)" = 12000000 ]
check "full pull: big.gguf came from the CDN" [ "$(count_log 'r["server"]=="cdn" and r["bytes"]>0 and "'"$BIG"'" in r["path"]')" -gt 0 ]
check "full pull: no other CDN body fetched again" [ "$(count_log 'r["server"]=="cdn" and r["bytes"]>0 and "'"$BIG"'" not in r["path"]')" -eq "$n_other" ]
check "CDN never got an authorization header" [ "$(count_log 'r["server"]=="cdn" and "authorization" in r["headers"]')" -eq 0 ]
done_testing
