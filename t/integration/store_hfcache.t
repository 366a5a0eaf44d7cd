#!/bin/sh
# Interoperating with other tools' caches (docs/store.md; the HF cache and
# Ollama layouts: vendors/huggingface/cachedir.c): pull --hf-cache publishes in the
# huggingface_hub layout; scan --hf-cache and scan --ollama import without
# downloading (by reflink or copy: never the cache's inode; hard links only
# with apctl --link, see foreign_cache_trust.t), and later pulls of the
# same bytes transfer nothing.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 39
C1=3333333333333333333333333333333333333333
C2=4444444444444444444444444444444444444444
HFC="$TMP/hfc"
OLL="$TMP/ollama"
gen_bytes 1200000 61 > "$TMP/model.gguf"
gen_bytes 900000 62 > "$TMP/layer.bin"
printf '{"architectures": ["LlamaForCausalLM"], "x": 1}' > "$TMP/config.json"
printf '{"version": "1.0", "model": {"type": "BPE"}}' > "$TMP/tokenizer.json"
M=$(sha256 "$TMP/model.gguf")
L=$(sha256 "$TMP/layer.bin")
TOKS=$(sha256 "$TMP/tokenizer.json")
CFGS=$(sha256 "$TMP/config.json")
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/repo": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "model.gguf": {"source": "$TMP/model.gguf", "lfs": true},
     "config.json": {"source": "$TMP/config.json"},
     "sub/tokenizer.json": {"source": "$TMP/tokenizer.json"}
  }}}},
  "org/ol": {"refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
     "ol.gguf": {"source": "$TMP/layer.bin", "lfs": true}
  }}}}
}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
same_bytes() { [ -f "$1" ] && [ "$(sha256 "$1")" = "$2" ]; }
blob() { echo "$AP_HOME/blobs/sha256/$(echo "$1" | cut -c1-2)/$1"; }
ino() { stat -c %i "$1" 2> /dev/null || echo none; }
# gets SERVER PATTERN: number of GETs to SERVER whose path contains PATTERN
gets() {
    python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("method") == "GET" and r.get("server") == sys.argv[2] and sys.argv[3] in r.get("path", ""):
        n += 1
print(n)' "$FH_LOG" "$1" "$2"
}
pull() { timeout 30 "$APCTL" pull --json "$@" 2> "$TMP/err"; _rc=$?; [ -s "$TMP/err" ] && diag "$(cat "$TMP/err")" >&2; return $_rc; }
# entry_files_ok LS_JSON REF_PREFIX NAME=SHA...: an entry whose ref starts
# with REF_PREFIX lists every NAME with a path holding bytes of that SHA.
entry_files_ok() {
    python3 -c '
import hashlib, json, sys
ls, prefix, want = json.load(open(sys.argv[1])), sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
for e in ls:
    if not e["ref"].startswith(prefix):
        continue
    got = {}
    for f in e["files"]:
        try:
            got[f["name"]] = hashlib.sha256(open(f["path"], "rb").read()).hexdigest()
        except (OSError, TypeError):
            pass
    if all(got.get(n) == s for n, s in want.items()) and e["status"] == "ready":
        sys.exit(0)
print("# no ready entry %s* with %s; entries: %s" % (prefix, want,
      [(e["ref"], e["status"], [f["name"] for f in e["files"]]) for e in ls]))
sys.exit(1)' "$@"
}

# === 1. pull --hf-cache publishes in the huggingface_hub layout =============
pull --hf-cache="$HFC" hf:org/repo/model.gguf > "$TMP/m.json"
check "pull --hf-cache of an LFS file exits 0" [ $? -eq 0 ]
check "  ... the store copy has the right bytes" \
    same_bytes "$(json_get "$TMP/m.json" 'j["files"][0]["path"]' 2> /dev/null)" "$M"
pull --hf-cache="$HFC" hf:org/repo/config.json > "$TMP/c.json"
check "pull --hf-cache of a regular file exits 0" [ $? -eq 0 ]
pull --hf-cache="$HFC" hf:org/repo/sub/tokenizer.json > "$TMP/t.json"
check "pull --hf-cache of a regular file in a subdirectory exits 0" [ $? -eq 0 ]
for f in "model.gguf $TMP/model.gguf lfs" "config.json $TMP/config.json regular" \
         "sub/tokenizer.json $TMP/tokenizer.json regular"; do
    set -- $f
    python3 "$AP_SRC/t/helpers/check_hf_cache.py" "$HFC" org/repo $C1 "$1" "$2" "$3" > "$TMP/chk" 2>&1
    check "HF cache layout for $1 ($3): blobs/<etag>, relative snapshot link, refs/main" [ $? -eq 0 ]
    cat "$TMP/chk"
done
check "refs/main is exactly the 40-hex commit, no trailing newline" \
    [ "$(od -An -v -c "$HFC/models--org--repo/refs/main" 2> /dev/null | tr -d ' \n')" = "$C1" ]
check "no absolute symlink anywhere in the published cache" \
    [ -z "$(find "$HFC" -type l -lname '/*' 2> /dev/null | head -n 1)" ]
check "no temporary file left in the published cache" \
    [ -z "$(find "$HFC" -name '.ap-tmp*' 2> /dev/null | head -n 1)" ]
diag "published: $(cd "$HFC" 2> /dev/null && find . | sort | tr '\n' ' ')"

# === 2. scan --hf-cache into a fresh store, then pulls transfer nothing =====
# plus a hostile snapshot entry: a relative link that leaves the cache
gen_bytes 5000 63 > "$TMP/outside.bin"
OUTS=$(sha256 "$TMP/outside.bin")
ln -s ../../../../outside.bin "$HFC/models--org--repo/snapshots/$C1/evil.bin"
[ -f "$HFC/models--org--repo/snapshots/$C1/evil.bin" ] || diag "evil.bin link does not resolve"
AP_HOME="$TMP/home2"
export AP_HOME
timeout 30 "$APCTL" scan --hf-cache="$HFC" > "$TMP/scan" 2>&1
rc=$?
diag "scan --hf-cache: status $rc: $(cat "$TMP/scan")"
check "scan --hf-cache=DIR exits 0" [ $rc -eq 0 ]
timeout 30 "$APCTL" ls --json > "$TMP/ls2.json" 2> /dev/null
check "ls --json exits 0 after the scan" [ $? -eq 0 ]
check "  ... lists a ready entry hf:org/repo... with the three files, bytes right" \
    entry_files_ok "$TMP/ls2.json" hf:org/repo "model.gguf=$M" "config.json=$CFGS" "sub/tokenizer.json=$TOKS"
check "  ... the store blob of the LFS file is its own inode (reflink or copy), not the cache blob's" \
    [ "$(ino "$(blob "$M")")" != "$(ino "$HFC/models--org--repo/blobs/$M")" ]
GS=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$TMP/config.json")
check "  ... the store blob of the regular file is its own inode, not blobs/<git sha1>'s" \
    [ "$(ino "$(blob "$CFGS")")" != "$(ino "$HFC/models--org--repo/blobs/$GS")" ]
check "  ... a snapshot link leaving the cache is not imported" sh -c \
    "! grep -q evil.bin '$TMP/ls2.json' && [ ! -e '$(blob "$OUTS")' ]"
check "  ... the store blobs have the right bytes" sh -c \
    "[ \"\$(sha256sum '$(blob "$M")' | cut -d' ' -f1)\" = $M ] && \
     [ \"\$(sha256sum '$(blob "$CFGS")' | cut -d' ' -f1)\" = $CFGS ]"
python3 "$AP_SRC/t/helpers/store_check.py" "$AP_HOME" > "$TMP/sc" 2>&1
check "  ... store invariants hold" [ $? -eq 0 ]
cat "$TMP/sc"
n_before=$(wc -l < "$TMP/ls2.json")
timeout 30 "$APCTL" scan --hf-cache="$HFC" > /dev/null 2>&1
check "a second scan exits 0 and adds no entry" sh -c \
    "[ $? -eq 0 ] && [ \"\$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' '$TMP/ls2.json')\" = \
       \"\$('$APCTL' ls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" ]"
n=$(gets cdn "$M")
pull hf:org/repo/model.gguf > "$TMP/m2.json"
check "pull of the LFS file after the scan exits 0" [ $? -eq 0 ]
check "  ... fetched_bytes = 0" [ "$(json_get "$TMP/m2.json" 'j["fetched_bytes"]' 2> /dev/null)" = 0 ]
check "  ... no CDN GET for it" [ "$(gets cdn "$M")" -eq "$n" ]
check "  ... the reported path has the right bytes" \
    same_bytes "$(json_get "$TMP/m2.json" 'j["files"][0]["path"]' 2> /dev/null)" "$M"
n=$(gets hub /resolve/)
pull hf:org/repo/sub/tokenizer.json > "$TMP/t2.json"
check "pull of the regular file after the scan: exits 0, fetched_bytes = 0, no hub GET" sh -c \
    "[ $? -eq 0 ] && [ \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"fetched_bytes\"])' '$TMP/t2.json')\" = 0 ] && \
     [ \$(python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if \"\\\"GET\\\"\" in l and \"/resolve/\" in l))' '$FH_LOG') -eq $n ]"
rm -f "$HFC/models--org--repo/snapshots/$C1/evil.bin"
check "the HF cache still has the right bytes after all this" \
    python3 "$AP_SRC/t/helpers/check_hf_cache.py" "$HFC" org/repo $C1 model.gguf "$TMP/model.gguf" lfs

# a file the user already has in the HF cache (HF_HUB_CACHE) is reused by a
# pull into a fresh store without download
AP_HOME="$TMP/home4"
export AP_HOME
n=$(gets cdn "$M")
HF_HUB_CACHE="$HFC" timeout 30 "$APCTL" pull --json hf:org/repo/model.gguf > "$TMP/m4.json" 2> "$TMP/err"
rc=$?
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "pull with HF_HUB_CACHE holding the file: exits 0, right bytes" sh -c \
    "[ $rc -eq 0 ] && [ \"\$(sha256sum \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"files\"][0][\"path\"])' '$TMP/m4.json')\" | cut -d' ' -f1)\" = $M ]"
check "  ... reused without download (fetched_bytes = 0, no CDN GET)" sh -c \
    "[ \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"fetched_bytes\"])' '$TMP/m4.json')\" = 0 ] && \
     [ \$(grep '\"server\":\"cdn\"' '$FH_LOG' | grep -c '$M') -eq $n ]"

# === 3. a hand-made Ollama store, scan --ollama ===============================
AP_HOME="$TMP/home3"
export AP_HOME
mkdir -p "$OLL/blobs" "$OLL/manifests/registry.ollama.ai/library/tiny"
printf '{"model_format":"gguf","model_family":"llama","model_type":"1B","file_type":"Q4_K_M"}' > "$TMP/ocfg.json"
printf '{{ .Prompt }}' > "$TMP/template.txt"
OC=$(sha256 "$TMP/ocfg.json")
OT=$(sha256 "$TMP/template.txt")
cp "$TMP/layer.bin" "$OLL/blobs/sha256-$L"
cp "$TMP/ocfg.json" "$OLL/blobs/sha256-$OC"
cp "$TMP/template.txt" "$OLL/blobs/sha256-$OT"
cat > "$OLL/manifests/registry.ollama.ai/library/tiny/latest" <<JSON
{"schemaVersion": 2,
 "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
 "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": "sha256:$OC", "size": $(wc -c < "$TMP/ocfg.json")},
 "layers": [
  {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:$L", "size": 900000},
  {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:$OT",
   "size": $(wc -c < "$TMP/template.txt")}
 ]}
JSON
timeout 30 "$APCTL" scan --ollama="$OLL" > "$TMP/scan" 2>&1
rc=$?
diag "scan --ollama: status $rc: $(cat "$TMP/scan")"
check "scan --ollama=DIR exits 0" [ $rc -eq 0 ]
timeout 30 "$APCTL" ls --json > "$TMP/ls3.json" 2> /dev/null
check "ls --json exits 0 after the scan" [ $? -eq 0 ]
check "  ... lists a ready entry for tiny whose model file has the layer's bytes" python3 -c '
import hashlib, json, sys
for e in json.load(open(sys.argv[1])):
    if "tiny" in e["ref"] and e["status"] == "ready":
        for f in e["files"]:
            try:
                if hashlib.sha256(open(f["path"], "rb").read()).hexdigest() == sys.argv[2]:
                    print("# entry %s ref %s" % (e["id"], e["ref"])); sys.exit(0)
            except (OSError, TypeError):
                pass
sys.exit(1)' "$TMP/ls3.json" "$L"
check "  ... its ref is ollama:registry.ollama.ai/library/tiny:latest" python3 -c '
import json, sys
sys.exit(0 if any(e["ref"] == "ollama:registry.ollama.ai/library/tiny:latest"
                  for e in json.load(open(sys.argv[1]))) else 1)' "$TMP/ls3.json"
check "  ... the model layer is in the store as its own inode (reflink or copy)" \
    [ "$(ino "$(blob "$L")")" != "$(ino "$OLL/blobs/sha256-$L")" ]
check "  ... the store blob has the right bytes" same_bytes "$(blob "$L")" "$L"
python3 "$AP_SRC/t/helpers/store_check.py" "$AP_HOME" > "$TMP/sc" 2>&1
check "  ... store invariants hold" [ $? -eq 0 ]
cat "$TMP/sc"
n=$(gets cdn "$L")
pull hf:org/ol/ol.gguf > "$TMP/o.json"
check "hf pull of an LFS file with the ollama layer's bytes exits 0" [ $? -eq 0 ]
check "  ... fetched_bytes = 0" [ "$(json_get "$TMP/o.json" 'j["fetched_bytes"]' 2> /dev/null)" = 0 ]
check "  ... no CDN GET for it" [ "$(gets cdn "$L")" -eq "$n" ]
check "  ... the reported path has the right bytes" \
    same_bytes "$(json_get "$TMP/o.json" 'j["files"][0]["path"]' 2> /dev/null)" "$L"
check "the ollama store is untouched (blob bytes, manifest still there)" sh -c \
    "[ \"\$(sha256sum '$OLL/blobs/sha256-$L' | cut -d' ' -f1)\" = $L ] && \
     [ -f '$OLL/manifests/registry.ollama.ai/library/tiny/latest' ]"
done_testing
