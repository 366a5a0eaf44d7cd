#!/bin/sh
# The Ollama vendor against the fake Ollama registry (t/fixtures/
# fakeregistry.py: text/plain manifests, blobs by 307 to a CDN on another
# loopback address that answers 400 to an Authorization header, the 401
# Bearer token flow): pulls with and without the token flow, a realm on
# another host refused, a corrupt layer, a missing tag, a missing model,
# publish into an Ollama models directory read back by an independent
# check, scan-then-pull with no blob fetched, offline resolution of a
# scanned model.  docs/vendor-ollama.md.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 51
HOME="$TMP/user"            # never the user's own ~/.ollama
export HOME
unset OLLAMA_MODELS
mkdir -p "$HOME"
python3 "$AP_SRC/t/fixtures/mkgguf.py" "$TMP/model.gguf" --size 300000 --file-type 15
M=$(sha256 "$TMP/model.gguf")

# start_reg CONFIG: (re)starts the fake registry; sets REG CDN RLOG DUMP.
start_reg() {
    stop_reg
    RLOG="$TMP/reg.log"
    DUMP="$TMP/dump.json"
    : > "$RLOG"
    rm -f "$TMP/rready"
    python3 "$AP_SRC/t/fixtures/fakeregistry.py" --config "$1" --log "$RLOG" \
        --ready-file "$TMP/rready" --dump "$DUMP" > /dev/null &
    FH_PID=$!
    _i=0
    while [ ! -s "$TMP/rready" ]; do
        _i=$((_i + 1))
        if [ $_i -gt 500 ]; then echo "Bail out! fake registry did not start"; exit 1; fi
        sleep 0.02
    done
    REG=$(json_get "$TMP/rready" 'j["registry"]')
    CDN=$(json_get "$TMP/rready" 'j["cdn"]')
    HP=${REG#http://}
}
stop_reg() {
    stop_pids "$FH_PID"
    FH_PID=
}
# rlog EXPR: how many requests of the registry log satisfy EXPR (r = one).
rlog() { FH_LOG="$RLOG" count_log "$1"; }
pull() {
    timeout 60 "$APCTL" pull --json "$@" > "$TMP/out.json" 2> "$TMP/err"
    _rc=$?
    [ -s "$TMP/err" ] && diag "$(head -c 2000 "$TMP/err")"
    return $_rc
}
# entry_ok: out.json's files have the dump's manifest bytes and digests
# (manifest.json, config.json, one file per layer named after its type).
entry_ok() {
    python3 - "$TMP/out.json" "$DUMP" "$1" <<'PY'
import hashlib, json, sys
e, dump, key = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
want = dump[key]
files = {f["name"]: f for f in e["files"]}
def sha(p): return hashlib.sha256(open(p, "rb").read()).hexdigest()
man = open(files["manifest.json"]["path"], "rb").read()
assert man == want["manifest"].encode(), "manifest bytes differ"
m = json.loads(man)
names = {"application/vnd.ollama.image.model": "model.gguf",
         "application/vnd.ollama.image.template": "template",
         "application/vnd.ollama.image.params": "params"}
for l in m["layers"]:
    f = files[names[l["mediaType"]]]
    assert "sha256:" + sha(f["path"]) == l["digest"], (f["name"], l["digest"])
assert "sha256:" + sha(files["config.json"]["path"]) == m["config"]["digest"]
assert files["model.gguf"]["kind"] == "model" and files["model.gguf"]["format"] == "gguf"
assert len(files) == len(m["layers"]) + 2, sorted(files)
PY
}

cat > "$TMP/open.json" <<JSON
{"models": {"library/tiny": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "file": "$TMP/model.gguf"},
  {"mediaType": "application/vnd.ollama.image.template", "content": "{{ .Prompt }}"},
  {"mediaType": "application/vnd.ollama.image.params", "content": "{\"stop\": [\"<|end|>\"]}"}
 ]},
 "q8": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "generate": 4096, "seed": 3}]}}},
  "me/other": {"tags": {"v1": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "generate": 1000, "seed": 4}]}}}}}
JSON

# === 1. no token flow: an open registry ======================================
start_reg "$TMP/open.json"
AP_HOME="$TMP/h1"
pull "ollama:http://$HP/library/tiny:latest"
check "pull ollama:http://HOST:PORT/library/tiny:latest (no auth) exits 0" [ $? -eq 0 ]
check "  ... manifest bytes, every layer and the config verified on disk" entry_ok "library/tiny:latest"
check "  ... canonical ref ollama:HOST:PORT/library/tiny:latest" \
    [ "$(json_get "$TMP/out.json" 'j["ref"]')" = "ollama:$HP/library/tiny:latest" ]
check "  ... the manifest was asked for with the Docker v2 Accept header" \
    [ "$(rlog '"/manifests/" in r["path"] and r["headers"].get("accept") == "application/vnd.docker.distribution.manifest.v2+json"')" -ge 1 ]
check "  ... the model layer came from the CDN after a 307" \
    [ "$(rlog 'r["server"] == "cdn" and "'"$M"'" in r["path"] and r["status"] in (200, 206)')" -ge 1 ]
check "  ... no request carried an Authorization header" \
    [ "$(rlog '"authorization" in r["headers"]')" -eq 0 ]
pull "ollama:http://$HP/library/tiny:q8"
check "pull ollama:http://HOST/library/tiny:q8 (a tag) exits 0" [ $? -eq 0 ]
check "  ... its canonical ref names the tag" \
    [ "$(json_get "$TMP/out.json" 'j["ref"]')" = "ollama:$HP/library/tiny:q8" ]
pull "ollama:http://$HP/tiny:q8"
check "ollama:http://HOST/MODEL is refused as ollama refuses it (HOST/MODEL is NS/MODEL)" \
    sh -c "[ $? -ne 0 ] && grep -q \"invalid namespace '$HP'\" '$TMP/err'"
pull "ollama:http://$HP/me/other:v1"
check "pull of another namespace's model exits 0" [ $? -eq 0 ]
pull "ollama:http://$HP/library/tiny:nosuchtag"
rc=$?
check "a missing tag fails (AP_ENOTFOUND: exit != 0)" [ $rc -ne 0 ]
check "  ... the message names the model and the tag" \
    grep -q "library/tiny has no tag 'nosuchtag'" "$TMP/err"
pull "ollama:http://$HP/library/nosuchmodel"
check "a missing model fails" [ $? -ne 0 ]
check "  ... the message names the model" grep -q "model library/nosuchmodel not found" "$TMP/err"
pull "ollama:ftp://$HP/library/tiny"
check "a scheme other than http/https is refused" sh -c "[ $? -ne 0 ] && grep -q \"unsupported scheme 'ftp'\" '$TMP/err'"
pull "ollama:http://$HP/library/Bad.NS/tiny"
check "a name breaking ollama's rules is refused before any request" \
    sh -c "[ $? -ne 0 ] && grep -q 'bad Ollama reference' '$TMP/err'"

# a manifest above 1 MiB (9000 layers) is refused, not parsed
python3 - "$TMP/big.json" <<'PY'
import json, sys
layers = [{"mediaType": "application/vnd.ollama.image.license", "content": "l%d" % i}
          for i in range(9000)]
json.dump({"models": {"library/big": {"tags": {"latest": {"layers": layers}}}}},
          open(sys.argv[1], "w"))
PY
start_reg "$TMP/big.json"
check "  (the big manifest is above 1 MiB)" python3 -c '
import json, sys
sys.exit(0 if len(json.load(open(sys.argv[1]))["library/big:latest"]["manifest"]) > 1 << 20 else 1)' "$DUMP"
pull "ollama:http://$HP/library/big"
check "a manifest larger than 1 MiB fails the pull" [ $? -ne 0 ]
check "  ... no blob was asked for" [ "$(rlog '"/blobs/" in r["path"]')" -eq 0 ]
start_reg "$TMP/open.json"

# === 2. publish into an Ollama models directory ==============================
OM="$TMP/ollama-models"
pull --ollama-models="$OM" "ollama:http://$HP/library/tiny:latest"
check "pull --ollama-models=DIR exits 0" [ $? -eq 0 ]
check "  ... DIR holds manifests/HOST:PORT/library/tiny/latest and the blobs (independent check)" \
    python3 - "$OM" "$DUMP" "$HP" <<'PY'
import hashlib, json, os, sys
om, dump, hp = sys.argv[1:]
want = json.load(open(dump))["library/tiny:latest"]
man = open(os.path.join(om, "manifests", hp, "library", "tiny", "latest"), "rb").read()
assert man == want["manifest"].encode(), "manifest bytes are not the registry's"
m = json.loads(man)
for d in [l["digest"] for l in m["layers"]] + [m["config"]["digest"]]:
    p = os.path.join(om, "blobs", d.replace(":", "-"))
    assert os.path.isfile(p) and not os.path.islink(p), p
    assert "sha256:" + hashlib.sha256(open(p, "rb").read()).hexdigest() == d, p
assert sorted(want["digests"]) == sorted(d.replace("-", ":") for d in os.listdir(os.path.join(om, "blobs")))
PY
check "  ... the blob is a copy (its own inode), not the store's" \
    [ "$(stat -c %i "$OM/blobs/sha256-$M")" != "$(stat -c %i "$(json_get "$TMP/out.json" '[f["path"] for f in j["files"] if f["name"] == "model.gguf"][0]')")" ]
OM2="$TMP/default-models"
mkdir -p "$OM2"
OLLAMA_MODELS="$OM2" pull --ollama-models "ollama:http://$HP/library/tiny:q8"
check "pull --ollama-models (no DIR) publishes into \$OLLAMA_MODELS" \
    sh -c "[ $? -eq 0 ] && [ -f '$OM2/manifests/$HP/library/tiny/q8' ]"
pull -o ollama_models="$HOME/.ollama/models" "ollama:http://$HP/me/other:v1"
check "-o ollama_models=DIR is the same option" [ -f "$HOME/.ollama/models/manifests/$HP/me/other/v1" ]

OM3="$TMP/hostile-models"
mkdir -p "$OM3" "$TMP/elsewhere"
ln -s "$TMP/elsewhere" "$OM3/manifests"
pull --ollama-models="$OM3" "ollama:http://$HP/library/tiny:latest"
check "publishing through a symlinked manifests/ directory fails" [ $? -ne 0 ]
check "  ... and writes nothing where the link points" [ -z "$(ls -A "$TMP/elsewhere")" ]

# === 3. scan the published store, then pull: nothing fetched ================
AP_HOME="$TMP/h2"
timeout 30 "$APCTL" scan --ollama="$OM" > "$TMP/scan" 2>&1
check "scan --ollama=DIR of the published store exits 0" [ $? -eq 0 ]
n_blob=$(rlog '"/blobs/" in r["path"] or r["server"] == "cdn"')
pull "ollama:http://$HP/library/tiny:latest"
check "pull after the scan exits 0" [ $? -eq 0 ]
check "  ... fetched_bytes = 0" [ "$(json_get "$TMP/out.json" 'j["fetched_bytes"]')" = 0 ]
check "  ... the registry log shows no blob GET" \
    [ "$(rlog '"/blobs/" in r["path"] or r["server"] == "cdn"')" -eq "$n_blob" ]
check "  ... one entry: the scanned one (same canonical reference)" \
    [ "$(timeout 30 "$APCTL" ls --json | json_get /dev/stdin 'len([e for e in j if e["ref"] == "ollama:'"$HP"'/library/tiny:latest"])')" = 1 ]
check "  ... bytes and digests right" entry_ok "library/tiny:latest"

# === 4. offline: a scanned model resolves from the catalog ==================
AP_HOME="$TMP/h3"
timeout 30 "$APCTL" scan --ollama="$OM" > "$TMP/scan" 2>&1
check "scan into a fresh store exits 0" [ $? -eq 0 ]
stop_reg
pull "ollama:http://$HP/library/tiny:latest"
check "with the registry down, the scanned model resolves (exit 0)" [ $? -eq 0 ]
check "  ... with the right bytes" entry_ok "library/tiny:latest"
check "  ... and a warning that the registry could not be reached" \
    grep -q "could not be reached" "$TMP/err"
pull "ollama:http://$HP/library/tiny:q8"
check "  ... a model neither scanned nor pulled fails (network error)" [ $? -ne 0 ]

# === 5. the token flow =======================================================
cat > "$TMP/auth.json" <<JSON
{"models": {"library/tiny": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "file": "$TMP/model.gguf"},
  {"mediaType": "application/vnd.ollama.image.template", "content": "{{ .Prompt }}"},
  {"mediaType": "application/vnd.ollama.image.params", "content": "{\"stop\": [\"<|end|>\"]}"}
 ]}}}},
 "auth": {"token": "tok-e4e1b0"}}
JSON
start_reg "$TMP/auth.json"
AP_HOME="$TMP/h4"
pull "ollama:http://$HP/library/tiny:latest"
check "pull through the 401 Bearer token flow exits 0" [ $? -eq 0 ]
check "  ... bytes and digests right" entry_ok "library/tiny:latest"
check "  ... the token was asked for with service and scope" \
    [ "$(rlog 'r["path"].startswith("/token?") and "service=fakeregistry" in r["path"] and "scope=repository%3Alibrary%2Ftiny%3Apull" in r["path"]')" = 1 ]
check "  ... blob requests to the registry carried the token" \
    [ "$(rlog '"/blobs/" in r["path"] and r["headers"].get("authorization") == "Bearer tok-e4e1b0" and r["status"] == 307')" -ge 4 ]
check "  ... the CDN never received an Authorization header" \
    [ "$(rlog 'r["server"] == "cdn" and "authorization" in r["headers"]')" -eq 0 ]
check "  ... and served every blob" \
    [ "$(rlog 'r["server"] == "cdn" and r["status"] in (200, 206)')" -ge 4 ]
check "  ... the token is not in apctl's output" sh -c "! grep -q tok-e4e1b0 '$TMP/out.json' '$TMP/err'"

# === 6. a realm on another host is refused ===================================
cat > "$TMP/realm.json" <<JSON
{"models": {"library/tiny": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "content": "x"}]}}}},
 "auth": {"token": "tok-e4e1b0"}, "realm": "http://127.0.0.2:9/token"}
JSON
start_reg "$TMP/realm.json"
AP_HOME="$TMP/h5"
pull "ollama:http://$HP/library/tiny"
check "a token realm on another host fails the pull" [ $? -ne 0 ]
check "  ... the message names the realm and the registry's host" \
    grep -q "the token realm http://127.0.0.2:9/token is not on the registry's host $HP" "$TMP/err"
check "  ... no token was asked for" [ "$(rlog '"/token" in r["path"]')" -eq 0 ]

# === 7. a corrupt layer =======================================================
T=$(printf '{{ .Prompt }}' | sha256sum | cut -d' ' -f1)
sed "s/\"auth\".*/\"corrupt\": [\"$M\"]}/" "$TMP/auth.json" > "$TMP/corrupt.json"
start_reg "$TMP/corrupt.json"
AP_HOME="$TMP/h6"
pull "ollama:http://$HP/library/tiny:latest"
check "a corrupt model layer fails the pull" [ $? -ne 0 ]
check "  ... the message names the layer: its file, media type and digest" \
    sh -c "grep -q 'model.gguf' '$TMP/err' && grep -q 'application/vnd.ollama.image.model' '$TMP/err' && grep -q 'sha256:$M' '$TMP/err'"
check "  ... nothing of it is in the store" [ ! -e "$AP_HOME/blobs/sha256/$(echo "$M" | cut -c1-2)/$M" ]
check "  ... the good layers were verified and kept" \
    [ -f "$AP_HOME/blobs/sha256/$(echo "$T" | cut -c1-2)/$T" ]
stop_reg
done_testing
