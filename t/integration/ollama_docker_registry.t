#!/bin/sh
# The Ollama vendor against a real distribution v2 server: Debian's
# docker-registry, started on loopback with t/fixtures/docker-registry.yml
# (storage in $TMP, no auth).  An Ollama-style model is pushed into it
# through its upload API (t/helpers/registry_push.py, as `ollama push`
# does), pulled back with apctl (ollama:http://127.0.0.1:PORT/library/
# tiny:latest) and published into an Ollama models directory; bytes and
# digests are compared with what was pushed.  docs/vendor-ollama.md.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
if ! command -v docker-registry > /dev/null 2>&1; then
    echo "1..0 # SKIP docker-registry is not installed (Debian package docker-registry)"
    exit 0
fi
plan 15
HOME="$TMP/user"
export HOME
unset OLLAMA_MODELS
mkdir -p "$HOME"
REG_PID=
stop_registry() {
    stop_pids "$REG_PID"
    REG_PID=
}
trap 'stop_registry; cleanup' EXIT INT TERM

# a free loopback port (bound then released; the registry binds it next)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG="http://127.0.0.1:$PORT"
mkdir -p "$TMP/regroot"
sed -e "s|ROOTDIR|$TMP/regroot|" -e "s|ADDR|127.0.0.1:$PORT|" \
    "$AP_SRC/t/fixtures/docker-registry.yml" > "$TMP/registry.yml"
docker-registry serve "$TMP/registry.yml" > "$TMP/registry.out" 2>&1 &
REG_PID=$!
# ready when /v2/ answers (the registry gives no ready line of its own)
_i=0
until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/v2/", timeout=2)' "$REG" 2> /dev/null; do
    _i=$((_i + 1))
    if [ $_i -gt 250 ] || ! kill -0 "$REG_PID" 2> /dev/null; then
        echo "Bail out! docker-registry did not start: $(head -c 1000 "$TMP/registry.out")"
        exit 1
    fi
    sleep 0.04
done
ok "docker-registry serves on 127.0.0.1:$PORT"

python3 "$AP_SRC/t/fixtures/mkgguf.py" "$TMP/model.gguf" --size 400000 --file-type 15
printf '{{ if .System }}<|system|>{{ .System }}{{ end }}{{ .Prompt }}' > "$TMP/template"
printf '{"stop": ["<|end|>"], "temperature": 0.5}' > "$TMP/params"
printf 'MIT License (test)\n' > "$TMP/license"
python3 "$AP_SRC/t/helpers/registry_push.py" "$REG" library/tiny latest "$TMP/pushed.json" \
    application/vnd.ollama.image.model="$TMP/model.gguf" \
    application/vnd.ollama.image.template="$TMP/template" \
    application/vnd.ollama.image.params="$TMP/params" \
    application/vnd.ollama.image.license="$TMP/license" > "$TMP/push.out" 2>&1
check "registry_push.py pushes library/tiny:latest through the upload API" [ $? -eq 0 ]
diag "$(cat "$TMP/push.out")"

timeout 60 "$APCTL" pull --json --ollama-models="$TMP/om" "ollama:$REG/library/tiny:latest" \
    > "$TMP/out.json" 2> "$TMP/err"
rc=$?
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "apctl pull ollama:http://127.0.0.1:PORT/library/tiny:latest exits 0" [ $rc -eq 0 ]
check "  ... canonical reference ollama:127.0.0.1:PORT/library/tiny:latest" \
    [ "$(json_get "$TMP/out.json" 'j["ref"]' 2> /dev/null)" = "ollama:127.0.0.1:$PORT/library/tiny:latest" ]
# file NAME SRC: the entry's file NAME has SRC's bytes
file_is() {
    python3 - "$TMP/out.json" "$1" "$2" <<'PY'
import hashlib, json, sys
e, name, src = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
f = [f for f in e["files"] if f["name"] == name][0]
got, want = open(f["path"], "rb").read(), open(src, "rb").read()
assert got == want and f["sha256"] == hashlib.sha256(want).hexdigest(), name
PY
}
check "  ... model.gguf has the pushed bytes and digest" file_is model.gguf "$TMP/model.gguf"
others_ok() { file_is template "$TMP/template" && file_is params "$TMP/params" &&
              file_is license "$TMP/license"; }
check "  ... template, params, license likewise" others_ok
check "  ... model.gguf is classified from its GGUF header (kind model, format gguf, q4_k_m)" \
    [ "$(json_get "$TMP/out.json" '[(f["kind"], f["format"], f["precision"]) for f in j["files"] if f["name"] == "model.gguf"][0]' 2> /dev/null)" = "('model', 'gguf', 'q4_k_m')" ]
check "  ... manifest.json holds the pushed manifest bytes" python3 -c '
import json, sys
e, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = [f for f in e["files"] if f["name"] == "manifest.json"][0]
sys.exit(0 if open(f["path"], "rb").read() == p["manifest"].encode() else 1)' "$TMP/out.json" "$TMP/pushed.json"
check "  ... config.json has the config digest" python3 -c '
import hashlib, json, sys
e, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
f = [f for f in e["files"] if f["name"] == "config.json"][0]
sys.exit(0 if "sha256:" + hashlib.sha256(open(f["path"], "rb").read()).hexdigest() == p["config"] else 1)' "$TMP/out.json" "$TMP/pushed.json"
check "the published Ollama store holds the manifest verbatim and every blob under its digest" \
    python3 - "$TMP/om" "$TMP/pushed.json" "127.0.0.1:$PORT" <<'PY'
import hashlib, json, os, sys
om, pushed, hp = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
man = open(os.path.join(om, "manifests", hp, "library", "tiny", "latest"), "rb").read()
assert man == pushed["manifest"].encode()
m = json.loads(man)
ds = [l["digest"] for l in m["layers"]] + [m["config"]["digest"]]
assert sorted(ds) == sorted(list(pushed["digests"].values()) + [pushed["config"]])
for d in ds:
    p = os.path.join(om, "blobs", d.replace(":", "-"))
    assert "sha256:" + hashlib.sha256(open(p, "rb").read()).hexdigest() == d, d
PY

# a missing tag and a missing model, as the real registry answers them
timeout 60 "$APCTL" pull "ollama:$REG/library/tiny:nosuch" > /dev/null 2> "$TMP/err"
check "a missing tag fails naming the model and the tag" \
    sh -c "[ $? -ne 0 ] && grep -q \"library/tiny has no tag 'nosuch' .*(its tags: latest)\" '$TMP/err'"
diag "$(cat "$TMP/err")"
timeout 60 "$APCTL" pull "ollama:$REG/library/absent" > /dev/null 2> "$TMP/err"
check "a missing model fails naming the model (the tags list tells it from a missing tag)" \
    sh -c "[ $? -ne 0 ] && grep -q 'model library/absent not found' '$TMP/err'"
diag "$(cat "$TMP/err")"

# pulled again into a second store that scanned the published directory:
# nothing transferred
AP_HOME="$TMP/home2"
timeout 30 "$APCTL" scan --ollama="$TMP/om" > "$TMP/scan" 2>&1
check "scan of the published store exits 0" [ $? -eq 0 ]
timeout 60 "$APCTL" pull --json "ollama:$REG/library/tiny:latest" > "$TMP/out2.json" 2> "$TMP/err"
check "a pull after the scan exits 0" [ $? -eq 0 ]
check "  ... and fetched no byte" [ "$(json_get "$TMP/out2.json" 'j["fetched_bytes"]' 2> /dev/null)" = 0 ]
stop_registry
done_testing
