#!/bin/sh
# apd's Ollama-compatible subset driven by the official ollama JavaScript
# client from npm (t/js, installed by .ci/deps with `npm ci`): pull with
# stream: true (Ollama's progress lines: pulling <file> with total and
# completed, verifying sha256 digest, success), list, delete, a second
# delete refused; against t/fixtures/fakeregistry.py.  With curl: hf.co/
# names go to the Hugging Face vendor (t/fixtures/fakehub.py), a missing
# model streams an error line, the client's error for it.  Per layer while
# it downloads: a throttled pull of two layers shows, before success, each
# layer's line with its digest, its total and a completed that grows, to
# the official client and to curl.  docs/daemon.md.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
if [ ! -d "$AP_SRC/t/js/node_modules/ollama" ] || ! command -v node > /dev/null; then
    echo "1..0 # SKIP the ollama npm client is not installed (cd t/js && npm ci; .ci/deps does it)"
    exit 0
fi
plan 19
HOME="$TMP/user"            # never the user's own ~/.ollama
export HOME
unset OLLAMA_MODELS
mkdir -p "$HOME"
APD_PID=
REG_PID=
stop_all() {
    stop_pids "$APD_PID" "$REG_PID"
    cleanup
}
trap stop_all EXIT INT TERM

python3 "$AP_SRC/t/fixtures/mkgguf.py" "$TMP/model.gguf" --size 300000 --file-type 15
M=$(sha256 "$TMP/model.gguf")
cat > "$TMP/reg.json" <<JSON
{"models": {"library/tiny": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "file": "$TMP/model.gguf"},
  {"mediaType": "application/vnd.ollama.image.template", "content": "{{ .Prompt }}"}
 ]}}},
 "library/two": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "generate": 700000, "seed": 1},
  {"mediaType": "application/vnd.ollama.image.projector", "generate": 600000, "seed": 2}
 ]}}},
 "library/three": {"tags": {"latest": {"layers": [
  {"mediaType": "application/vnd.ollama.image.model", "generate": 700000, "seed": 3},
  {"mediaType": "application/vnd.ollama.image.projector", "generate": 600000, "seed": 4}
 ]}}}},
 "throttle_bps": 1000000}
JSON
python3 "$AP_SRC/t/fixtures/fakeregistry.py" --config "$TMP/reg.json" --log "$TMP/reg.log" \
    --ready-file "$TMP/rready" --dump "$TMP/reg.dump" > /dev/null &
REG_PID=$!
C1=4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c
cat > "$TMP/hub.json" <<JSON
{"repos": {"org/small": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
   "config.json": {"content": "{}"}}}}}}}
JSON
start_hub "$TMP/hub.json"
i=0
while [ ! -s "$TMP/rready" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done
HP=$(json_get "$TMP/rready" 'j["registry"]')
HP=${HP#http://}

HF_ENDPOINT="$HUB" "$AP_BUILD/apd" --listen 127.0.0.1:0 --port-file "$TMP/port" \
    2> "$TMP/apd.err" &
APD_PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i + 1)); done
check "apd starts" [ -s "$TMP/port" ]
URL="http://127.0.0.1:$(cat "$TMP/port")"
NAME="$HP/library/tiny:latest"

node "$AP_SRC/t/js/ollama_client.mjs" "$URL" "$NAME" > "$TMP/js.json" 2> "$TMP/js.err"
check "the ollama client runs to its end" [ $? -eq 0 ]
diag "$(head -c 1500 "$TMP/js.json")" "$(head -c 500 "$TMP/js.err")"
check "pull: no error, the statuses end with verifying, success" json_get "$TMP/js.json" \
    'exit(0 if "error" not in j and j["statuses"][0] == "pulling manifest" and j["statuses"][-2:] == ["writing manifest", "success"] and "verifying sha256 digest" in j["statuses"] else 1)'
check "  ... pulling <digest> lines with total and completed, the model's with its size" \
    json_get "$TMP/js.json" \
    'exit(0 if {"status": "pulling '"$(echo "$M" | cut -c1-12)"'", "digest": "sha256:'"$M"'", "total": 300000, "completed": 300000} in j["progress"] and all(p["status"].startswith("pulling ") and 0 <= p["completed"] <= p["total"] for p in j["progress"]) else 1)'
check "list: the model, named as pulled, with its size and the model file's digest" \
    json_get "$TMP/js.json" \
    "exit(0 if [(m['name'], m['digest'], m['format']) for m in j['listed']] == [('$NAME', '$M', 'gguf')] and j['listed'][0]['size'] > 300000 else 1)"
check "delete: success, and the list is empty after it" json_get "$TMP/js.json" \
    'exit(0 if j["deleted"] == "success" and j["listed_after"] == [] else 1)'
check "a second delete: the client's error, 404 'not found'" json_get "$TMP/js.json" \
    'exit(0 if j["second_delete"]["status"] == 404 and "not found" in j["second_delete"]["error"] else 1)'

# a model the registry lacks: an error line, which the client throws
node "$AP_SRC/t/js/ollama_client.mjs" "$URL" "$HP/library/absent:latest" > "$TMP/js2.json"
check "a missing model: the client throws the error apd streamed" json_get "$TMP/js2.json" \
    'exit(0 if "absent" in j.get("error", "") else 1)'

# Per layer, while it downloads (the registry sends 1 MB/s per connection):
# before success, each layer's "pulling <12 hex>" line with its digest and
# total, completed growing.  LAYERS FILE: the check, on a list of
# {status, digest, total, completed} (with the statuses up to success).
layers_grow() {
    python3 -c '
import json, sys
prog, dump, model = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
man = json.loads(dump[model]["manifest"])
want = {l["digest"]: l["size"] for l in man["layers"] if l["size"] > 100000}
seen = {}
for p in prog:
    if p.get("status") == "success":
        break
    d = p.get("digest")
    if d in want:
        assert p["total"] == want[d], p
        assert p["status"] == "pulling " + d[7:19], p
        seen.setdefault(d, []).append(p["completed"])
for d in want:
    c = seen.get(d, [])
    assert len(set(c)) >= 2 and c == sorted(c) and c[0] < want[d], (d, c)
print(len(prog), {d[7:19]: len(c) for d, c in seen.items()})' "$1" "$TMP/reg.dump" "$2"
}
node "$AP_SRC/t/js/ollama_client.mjs" "$URL" "$HP/library/two:latest" > "$TMP/js3.json" 2> "$TMP/js3.err"
check "a throttled two-layer pull through the client succeeds" json_get "$TMP/js3.json" \
    'exit(0 if "error" not in j and j["statuses"][-1] == "success" else 1)'
json_get "$TMP/js3.json" 'json.dumps([dict(p, status=p["status"]) for p in j["progress"]] + [{"status": "success"}])' > "$TMP/js3.prog"
check "  ... the client saw both layers grow, each with its digest and total, before success" \
    layers_grow "$TMP/js3.prog" library/two:latest
diag "$(layers_grow "$TMP/js3.prog" library/two:latest 2>&1 | tail -n 3)"
code=$(curl -s -m 60 -o "$TMP/three.ndjson" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"model": "'"$HP"'/library/three:latest", "insecure": true}' "$URL/api/pull")
check "curl: the same pull of another model, 200" [ "$code" = 200 ]
python3 -c '
import json, sys
print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/three.ndjson" > "$TMP/three.prog"
check "  ... its NDJSON has both layers growing before success" \
    layers_grow "$TMP/three.prog" library/three:latest
diag "$(layers_grow "$TMP/three.prog" library/three:latest 2>&1 | tail -n 3)"
curl -s -m 10 "$URL/v1/jobs" > "$TMP/jobs.json"
JID=$(json_get "$TMP/jobs.json" '[x["job_id"] for x in j["jobs"] if x["ref"].endswith("library/three:latest")][0]')
curl -s -m 10 "$URL/v1/jobs/$JID/events" > "$TMP/three.sse"
check "/v1/jobs/ID/events: per-file progress events, each layer's file_sha256 and file_done growing" python3 -c '
import json, sys
ev = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: ")]
dump = json.load(open(sys.argv[2]))
man = json.loads(dump["library/three:latest"]["manifest"])
want = {l["digest"][7:]: l["size"] for l in man["layers"] if l["size"] > 100000}
seen = {}
for e in ev:
    if e["event"] == "progress" and e["file_sha256"] in want:
        assert e["file_total"] == want[e["file_sha256"]], e
        seen.setdefault(e["file_sha256"], []).append(e["file_done"])
for d in want:
    c = seen.get(d, [])
    assert len(set(c)) >= 2 and c == sorted(c), (d, c)' "$TMP/three.sse" "$TMP/reg.dump"
curl -s -m 10 -o /dev/null -X DELETE -H 'Content-Type: application/json' \
    -d '{"model": "'"$HP"'/library/three:latest"}' "$URL/api/delete"

# hf.co/ORG/REPO goes to the Hugging Face vendor
code=$(curl -s -m 30 -o "$TMP/pull.ndjson" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -d '{"model": "hf.co/org/small"}' "$URL/api/pull")
diag "$(cat "$TMP/pull.ndjson")"
check "POST /api/pull of hf.co/org/small: 200, NDJSON ending with success" sh -c \
    "[ $code = 200 ] && tail -n 1 '$TMP/pull.ndjson' | grep -q '^{\"status\":\"success\"}$'"
check "  ... every line is a JSON object" python3 -c '
import json, sys
for l in open(sys.argv[1]):
    assert isinstance(json.loads(l), dict), l' "$TMP/pull.ndjson"
curl -s -m 10 "$URL/v1/models" > "$TMP/models.json"
check "  ... pulled through the hf vendor" json_get "$TMP/models.json" \
    'exit(0 if [m["ref"] for m in j["models"]] == ["hf:org/small@'"$C1"'"] or [m["vendor"] for m in j["models"]] == ["huggingface"] else 1)'
code=$(curl -s -m 10 -o "$TMP/tags.json" -w '%{http_code}' "$URL/api/tags")
check "GET /api/tags names it hf.co/org/small" sh -c \
    "[ $code = 200 ] && grep -q '\"name\":\"hf.co/org/small' '$TMP/tags.json'"
code=$(curl -s -m 10 -o "$TMP/del" -w '%{http_code}' -X DELETE -H 'Content-Type: application/json' \
    -d '{"model": "hf.co/org/small"}' "$URL/api/delete")
check "DELETE /api/delete removes it" sh -c \
    "[ $code = 200 ] && [ \"\$(curl -s '$URL/api/tags')\" = '{\"models\":[]}' ]"
code=$(curl -s -m 10 -o "$TMP/del" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{}' "$URL/api/pull")
check "POST /api/pull without a model: 400" [ "$code" = 400 ]
[ "$_fail" -eq 0 ] || diag "$(tail -n 40 "$TMP/apd.err")"
done_testing
