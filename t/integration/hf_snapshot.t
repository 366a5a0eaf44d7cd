#!/bin/sh
# apctl pull of a whole Hugging Face snapshot (hf:org/repo, no PATH) whose
# recursive tree comes in three pages (Link rel="next" with a cursor), with a
# subdirectory, regular and LFS files; then --include / --exclude filters.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 32
C1=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a

# count_log PY-EXPR: number of request-log lines (as r) for which EXPR is true.
git_sha1() {
    python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"
}

# The six files, on disk, served through "source".
S="$TMP/src"
mkdir -p "$S/sub"
printf '# snap\nA test repository.\n' > "$S/README.md"
printf '{"architectures": ["LlamaForCausalLM"], "hidden_size": 64}' > "$S/config.json"
printf '{"version": "1.0", "model": {"type": "BPE"}}' > "$S/sub/tokenizer.json"
printf 'some notes in a subdirectory\n' > "$S/sub/notes.txt"
printf 'odd name\n' > "$S/sub/odd name#1?.txt"
python3 "$AP_SRC/t/fixtures/mkgguf.py" "$S/model.Q4_K_M.gguf" --size 300000
gen_bytes 200000 snapw > "$S/weights.safetensors"
FILES_LIST="README.md config.json model.Q4_K_M.gguf sub/notes.txt sub/tokenizer.json weights.safetensors"
ODD="sub/odd name#1?.txt"   # handled apart: spaces and URL delimiters

# 7 files + 1 directory entry, 3 per page -> 3 pages.
cat > "$TMP/cfg.json" <<JSON
{"tree_page_size": 3,
 "repos": {
  "org/snap": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "README.md": {"source": "$S/README.md"},
     "config.json": {"source": "$S/config.json"},
     "sub/tokenizer.json": {"source": "$S/sub/tokenizer.json"},
     "sub/notes.txt": {"source": "$S/sub/notes.txt"},
     "$ODD": {"source": "$S/$ODD"},
     "model.Q4_K_M.gguf": {"source": "$S/model.Q4_K_M.gguf", "lfs": true},
     "weights.safetensors": {"source": "$S/weights.safetensors", "lfs": true}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# --- the whole snapshot ---
"$APCTL" pull --json hf:org/snap > "$TMP/out.json" 2> "$TMP/err"
rc=$?
check "snapshot pull exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "json: status ready" [ "$(json_get "$TMP/out.json" 'j["status"]' 2>/dev/null)" = ready ]
check "json: name org/snap" [ "$(json_get "$TMP/out.json" 'j["name"]' 2>/dev/null)" = org/snap ]
check "json: revision is the full commit" [ "$(json_get "$TMP/out.json" 'j["revision"]' 2>/dev/null)" = "$C1" ]
check "json: exactly the 7 files, by name" [ "$(json_get "$TMP/out.json" '"|".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null)" = \
    "$(echo $FILES_LIST | sed 's/ /|/g; s/sub\/notes.txt/sub\/notes.txt|sub\/odd name#1?.txt/')" ]
check "json: all files present" [ "$(json_get "$TMP/out.json" 'all(f["present"] for f in j["files"]) and len(j["files"])' 2>/dev/null)" = 7 ]
total=$(stat -c %s "$S/$ODD")
for f in $FILES_LIST; do total=$((total + $(stat -c %s "$S/$f"))); done
check "json: total_size is the sum of sizes" [ "$(json_get "$TMP/out.json" 'j["total_size"]' 2>/dev/null)" = "$total" ]

bad=
for f in $FILES_LIST; do
    p=$(json_get "$TMP/out.json" "[x['path'] for x in j['files'] if x['name']=='$f'][0]" 2>/dev/null)
    if [ -z "$p" ] || ! cmp -s "$p" "$S/$f"; then bad="$bad $f"; fi
done
check "every file's bytes equal the served file" [ -z "$bad" ]
[ -n "$bad" ] && diag "wrong or missing:$bad"

bad=
for f in $FILES_LIST; do
    got=$(json_get "$TMP/out.json" "[str(x['size'])+' '+str(x['sha256'])+' '+str(x['git_sha1']) for x in j['files'] if x['name']=='$f'][0]" 2>/dev/null)
    case $f in
        *.gguf|*.safetensors) want="$(stat -c %s "$S/$f") $(sha256 "$S/$f") " ;;
        *) want="$(stat -c %s "$S/$f") $(sha256 "$S/$f") $(git_sha1 "$S/$f")" ;;
    esac
    # LFS files: git_sha1 is not the file's blob id (the tree has the pointer's);
    # only check that sha256 and size match.
    case $f in
        *.gguf|*.safetensors) [ "${got% *}" = "${want% }" ] || bad="$bad $f($got)";;
        *) [ "$got" = "$want" ] || bad="$bad $f($got != $want)";;
    esac
done
check "every file's size, sha256 (and git sha1 for regular files) recorded" [ -z "$bad" ]
[ -n "$bad" ] && diag "mismatch:$bad"

n_tree=$(count_log 'r["server"]=="hub" and r["method"]=="GET" and "/api/models/org/snap/tree/" in r["path"]')
n_cursor=$(count_log 'r["server"]=="hub" and r["method"]=="GET" and "/tree/" in r["path"] and "cursor=" in r["path"]')
p=$(json_get "$TMP/out.json" "[x['path'] for x in j['files'] if x['name']=='$ODD'][0]" 2>/dev/null)
check "a file name with space, # and ?: right bytes" cmp -s "$p" "$S/$ODD"
check "  ... requested percent-encoded (odd%20name%231%3F.txt)" [ "$(count_log '"/sub/odd%20name%231%3F.txt" in r["path"] and r["status"] in (200,206)')" -ge 1 ]
check "three tree pages were fetched (log)" [ "$n_tree" -eq 3 ]
check "two of them followed the Link cursor (log)" [ "$n_cursor" -eq 2 ]
[ "$n_tree" -eq 3 ] && [ "$n_cursor" -eq 2 ] || diag "tree GETs: $n_tree, with cursor: $n_cursor"
check "tree was listed recursively at the pinned commit" [ "$(count_log '"/tree/'"$C1"'" in r["path"] and "recursive=" in r["path"]')" -eq 3 ]
check "all tree pages answered 200" [ "$(count_log '"/tree/" in r["path"] and r["status"]!=200')" -eq 0 ]
check "both LFS bodies came from the CDN" [ "$(count_log 'r["server"]=="cdn" and r["method"]=="GET" and r["status"] in (200,206)')" -ge 2 ]
check "files are fetched pinned to the commit" [ "$(count_log 'r["server"]=="hub" and "/resolve/" in r["path"] and "/resolve/'"$C1"'/" not in r["path"]')" -eq 0 ]

"$APCTL" show hf:org/snap --json > "$TMP/show.json" 2>&1
check "show --json lists the same 7 files" [ "$(json_get "$TMP/show.json" 'len(j["files"])' 2>/dev/null)" = 7 ]
check "every request sent Accept-Encoding: identity, once" \
    [ "$(count_log 'r["headers"].get("accept-encoding")!="identity"')" -eq 0 ]
[ "$(count_log 'r["headers"].get("accept-encoding")!="identity"')" -eq 0 ] || \
    diag "$(count_log 'r["headers"].get("accept-encoding")!="identity"') requests with another value, e.g. '$(grep -o '"accept-encoding":"[^"]*"' "$FH_LOG" | grep -v '"identity"' | head -n 1)'"

# --- pulling it again: nothing fetched ---
n_cdn=$(count_log 'r["server"]=="cdn"')
n_res=$(count_log '"/resolve/" in r["path"] and r["method"]=="GET"')
"$APCTL" pull --json hf:org/snap > "$TMP/again.json" 2> "$TMP/err"
check "second snapshot pull exits 0" [ $? -eq 0 ]
check "second pull: fetched_bytes 0" [ "$(json_get "$TMP/again.json" 'j["fetched_bytes"]' 2>/dev/null)" = 0 ]
check "second pull: no CDN request, no resolve GET" [ "$(count_log 'r["server"]=="cdn"')" -eq "$n_cdn" ] && \
    [ "$(count_log '"/resolve/" in r["path"] and r["method"]=="GET"')" -eq "$n_res" ]

# --- --include '*.json' (fnmatch without FNM_PATHNAME: * also matches /,
#     as huggingface_hub's allow_patterns do) ---
AP_HOME="$TMP/home-inc" "$APCTL" pull --json --include '*.json' hf:org/snap > "$TMP/inc.json" 2> "$TMP/err"
rc=$?
check "--include '*.json' exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "--include '*.json' keeps config.json and sub/tokenizer.json only" \
    [ "$(json_get "$TMP/inc.json" '" ".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null)" = "config.json sub/tokenizer.json" ]
p=$(json_get "$TMP/inc.json" "[x['path'] for x in j['files'] if x['name']=='sub/tokenizer.json'][0]" 2>/dev/null)
check "--include: sub/tokenizer.json bytes" cmp -s "$p" "$S/sub/tokenizer.json"
check "--include: no weight blob or view in that home" sh -c "! find '$TMP/home-inc' -name '*.gguf' -o -name '*.safetensors' -o -name '$(sha256 "$S/model.Q4_K_M.gguf")' -o -name '$(sha256 "$S/weights.safetensors")' | grep -q ."

# --- --exclude '*.gguf' ---
gsha=$(sha256 "$S/model.Q4_K_M.gguf")
n_g=$(count_log 'r["server"]=="cdn" and "'"$gsha"'" in r["path"]')
AP_HOME="$TMP/home-exc" "$APCTL" pull --json --exclude '*.gguf' hf:org/snap > "$TMP/exc.json" 2> "$TMP/err"
rc=$?
check "--exclude '*.gguf' exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "--exclude '*.gguf' keeps the 6 others" \
    [ "$(json_get "$TMP/exc.json" '"|".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null)" = "README.md|config.json|sub/notes.txt|sub/odd name#1?.txt|sub/tokenizer.json|weights.safetensors" ]
check "--exclude: the GGUF was never requested from the CDN" [ "$(count_log 'r["server"]=="cdn" and "'"$gsha"'" in r["path"]')" -eq "$n_g" ]
p=$(json_get "$TMP/exc.json" "[x['path'] for x in j['files'] if x['name']=='weights.safetensors'][0]" 2>/dev/null)
check "--exclude: weights.safetensors bytes" cmp -s "$p" "$S/weights.safetensors"

# --- include and exclude together ---
AP_HOME="$TMP/home-both" "$APCTL" pull --json --include 'sub/*' --exclude '*.txt' hf:org/snap > "$TMP/both.json" 2> "$TMP/err"
check "--include 'sub/*' --exclude '*.txt' gives sub/tokenizer.json only" \
    [ "$(json_get "$TMP/both.json" '" ".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null)" = "sub/tokenizer.json" ]

# --- filters that match nothing ---
AP_HOME="$TMP/home-none" "$APCTL" pull --include '*.onnx' hf:org/snap > /dev/null 2> "$TMP/err"
rc=$?
check "--include matching nothing fails: no file matches the filters" sh -c \
    "[ $rc -ne 0 ] && grep -q 'hf:org/snap' '$TMP/err' && grep -qi 'no file matches' '$TMP/err'"
done_testing
