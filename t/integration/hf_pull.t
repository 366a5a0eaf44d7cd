#!/bin/sh
# apctl pull of single Hugging Face files through the dlopen'd vendor,
# against the fake hub: LFS via the CDN, a regular file, token scoping,
# errors (unknown repo, missing file, wrong digest), cancel, already present.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 26
C1=1111111111111111111111111111111111111111
python3 "$AP_SRC/t/fixtures/mkgguf.py" "$TMP/tiny.gguf" --size 3000000
gen_bytes 4000000 slow > "$TMP/slow.bin"
cat > "$TMP/cfg.json" <<JSON
{"tokens": {"hf_good": ["*"]},
 "repos": {
  "org/tiny": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"content": "{\"architectures\": [\"LlamaForCausalLM\"]}"},
     "tiny.Q4_K_M.gguf": {"source": "$TMP/tiny.gguf", "lfs": true},
     "bad.gguf": {"generate": {"size": 500000, "seed": 9}, "lfs": true,
                  "faults": {"corrupt_at": 123456}},
     "slow.bin": {"source": "$TMP/slow.bin", "lfs": true,
                  "faults": {"throttle_bps": 400000}}
  }}}},
  "org/private": {"private": true, "files": {"a.txt": {"content": "secret"}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

"$APCTL" vendors > "$TMP/vendors" 2>&1
check "apctl vendors lists huggingface with its schemes" grep -q '^huggingface .*hf:' "$TMP/vendors"
check "apctl vendors lists url" grep -q '^url ' "$TMP/vendors"

# --- an LFS file: HEAD → 302 to the CDN (another host), X-Linked-Etag ---
HF_TOKEN=hf_good "$APCTL" pull --json hf:org/tiny/tiny.Q4_K_M.gguf > "$TMP/out.json" 2> "$TMP/err"
check "pull LFS file exits 0" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
want=$(sha256 "$TMP/tiny.gguf")
check "json: status ready" [ "$(json_get "$TMP/out.json" 'j["status"]')" = ready ]
check "json: ref" [ "$(json_get "$TMP/out.json" 'j["ref"]')" = hf:org/tiny/tiny.Q4_K_M.gguf ]
check "json: name and sha256" [ "$(json_get "$TMP/out.json" 'j["files"][0]["name"]+" "+j["files"][0]["sha256"]')" = "tiny.Q4_K_M.gguf $want" ]
p=$(json_get "$TMP/out.json" 'j["files"][0]["path"]')
check "bytes on disk equal the served file" cmp -s "$p" "$TMP/tiny.gguf"
check "json: size" [ "$(json_get "$TMP/out.json" 'j["files"][0]["size"]')" = "$(stat -c %s "$TMP/tiny.gguf")" ]
check "path is absolute and inside AP_HOME" sh -c "case '$p' in '$AP_HOME'/*) true;; *) false;; esac"
check "CDN served the bytes" grep -q '"server": *"cdn"' "$FH_LOG"
check "the token reached the hub" sh -c "grep '\"server\": *\"hub\"' '$FH_LOG' | grep -q 'Bearer hf_good'"
check "the token never reached the CDN" sh -c "! grep '\"server\": *\"cdn\"' '$FH_LOG' | grep -qi authorization"

# --- a regular file: 200 + git sha1 ETag ---
"$APCTL" pull --json hf:org/tiny/config.json > "$TMP/cfg.out" 2> "$TMP/err"
check "pull regular file exits 0" [ $? -eq 0 ]
printf '{"architectures": ["LlamaForCausalLM"]}' > "$TMP/config.want"
p=$(json_get "$TMP/cfg.out" 'j["files"][0]["path"]')
check "regular file bytes match" cmp -s "$p" "$TMP/config.want"

# --- already present: nothing fetched the second time ---
n_cdn=$(grep -c '"server": *"cdn"' "$FH_LOG")
"$APCTL" pull hf:org/tiny/tiny.Q4_K_M.gguf > "$TMP/again" 2>&1
check "second pull says already present" grep -q 'already present' "$TMP/again"
check "second pull made no CDN request" [ "$(grep -c '"server": *"cdn"' "$FH_LOG")" -eq "$n_cdn" ]

# --- errors name the reference and the cause ---
"$APCTL" pull hf:org/nothere/x.gguf > /dev/null 2> "$TMP/err"
rc=$?
check "unknown repo fails" [ $rc -ne 0 ]
check "unknown repo message names ref and cause" sh -c \
  "grep -q 'hf:org/nothere/x.gguf' '$TMP/err' && grep -qi 'not found' '$TMP/err' && [ \$(wc -l < '$TMP/err') -eq 1 ]"
"$APCTL" pull hf:org/tiny/missing.gguf > /dev/null 2> "$TMP/err"
check "missing file fails, message says file not found" sh -c \
  "[ $? -ne 0 ] && grep -q 'missing.gguf' '$TMP/err' && grep -qi 'not found' '$TMP/err'"
"$APCTL" pull hf:org/tiny/bad.gguf > /dev/null 2> "$TMP/err"
rc=$?
check "wrong digest fails with want/got" sh -c \
  "[ $rc -ne 0 ] && grep -q 'sha256 mismatch' '$TMP/err' && grep -q 'bad.gguf' '$TMP/err'"
check "no corrupt blob or view left behind" sh -c \
  "! find '$AP_HOME/blobs' '$AP_HOME/models' -name '*bad*' | grep -q . && \
   [ -z \"\$(find '$AP_HOME/staging' -type f -size +0 2>/dev/null | head -n 1)\" ]"

# --- cancel mid-transfer: SIGINT → exit 130, nothing half-written visible ---
"$APCTL" pull --events hf:org/tiny/slow.bin > /dev/null 2> "$TMP/ev" &
pid=$!
i=0
while ! grep -q '"event":"progress".*"bytes_done":[1-9]' "$TMP/ev" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && break; sleep 0.02
done
kill -INT $pid
wait $pid
rc=$?
check "Ctrl-C cancels with exit status 130" [ $rc -eq 130 ]
check "events carried the job id" grep -q '"job":1,' "$TMP/ev"
check "cancelled file is not visible in the store" sh -c \
  "! find '$AP_HOME/models' -name slow.bin | grep -q . && \
   ! grep -rl slow.bin '$AP_HOME/catalog' | xargs grep -l '\"ready\"' 2>/dev/null | grep -q ."

# rm of one entry keeps the views of another entry of the same repository
"$APCTL" rm hf:org/tiny/config.json > /dev/null 2>&1
check "rm hf:org/tiny/config.json" [ $? -eq 0 ]
p=$("$APCTL" path hf:org/tiny/tiny.Q4_K_M.gguf 2> /dev/null)
check "  ... the other file of that repo is still at its path" cmp -s "$p" "$TMP/tiny.gguf"
done_testing
