#!/bin/sh
# The build vendor (build:RECIPE.json): the example recipe joins a GGUF split
# in two parts served over HTTP; the bytes, the classification, the log and
# progress events, the work directory removed, the cache hit (the command is
# not run again), a failing command, several outputs, and hostile recipes.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 43
python3 "$AP_SRC/t/fixtures/mkgguf.py" --size 3000000 --arch llama "$TMP/whole.gguf" >/dev/null
head -c 1000000 "$TMP/whole.gguf" > "$TMP/part-a"
tail -c +1000001 "$TMP/whole.gguf" > "$TMP/part-b"
W=$(sha256 "$TMP/whole.gguf")
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "model.Q8_0.gguf-split-a": {"source": "$TMP/part-a"},
  "model.Q8_0.gguf-split-b": {"source": "$TMP/part-b"},
  "slow.bin": {"generate": {"size": 400000, "seed": 5}, "faults": {"throttle_bps": 400000}}
}}
JSON
start_hub "$TMP/cfg.json"
mkdir -p "$TMP/work" "$TMP/r"
TMPDIR="$TMP/work"   # the vendor makes its work directories here
export TMPDIR
workdir_empty() { [ -z "$(ls -A "$TMP/work")" ]; }

# the shipped example, its inputs pointed at the fake file server, and a
# counter line appended by every run of the command
python3 - "$AP_SRC/examples/recipes/join-split-gguf.json" "$TMP/r/join.json" "$FILES" "$TMP/count" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for k, v in r["inputs"].items():
    r["inputs"][k] = v.replace("https://example.com/models", sys.argv[3] + "/files")
r["command"] = "echo run >> '%s'; " % sys.argv[4] + r["command"]
json.dump(r, open(sys.argv[2], "w"))
PY
"$APCTL" pull --json --events "build:$TMP/r/join.json" > "$TMP/o.json" 2> "$TMP/ev"
rc=$?
check "the example recipe builds" [ $rc -eq 0 ]
[ $rc -eq 0 ] || diag "$(tail -n 5 "$TMP/ev")"
p=$(json_get "$TMP/o.json" 'j["files"][0]["path"]')
check "the output's bytes are the two parts joined" sh -c "[ \"\$(sha256sum '$p' | cut -d' ' -f1)\" = $W ]"
check "it is classified like any artifact (gguf, llama)" python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
assert f["format"] == "gguf" and f.get("architecture") == "llama", f' "$TMP/o.json"
check "the canonical reference carries the recipe's absolute path and the build key" python3 -c '
import json, re, sys
j = json.load(open(sys.argv[1]))
assert re.fullmatch(re.escape("build:" + sys.argv[2]) + "#[0-9a-f]{64}", j["ref"]), j["ref"]
assert j["revision"] == j["ref"].split("#")[1], j' "$TMP/o.json" "$(cd "$TMP/r" && pwd -P)/join.json"
check "the command's output lines are log events" grep -q '"event":"log".*joined 3000000 bytes' "$TMP/ev"
check "progress DONE/TOTAL lines are not logged as text" sh -c "! grep -q 'progress 1/2' '$TMP/ev'"
check "the command ran once" [ "$(wc -l < "$TMP/count")" -eq 1 ]
check "the work directory is removed after the build" workdir_empty
check "the inputs are entries of their own (provisioned through the provisioner)" \
    sh -c "'$APCTL' ls | grep -q 'gguf-split-a' && '$APCTL' ls | grep -q 'gguf-split-b'"

"$APCTL" pull --json --events "build:$TMP/r/join.json" > "$TMP/o2.json" 2> "$TMP/ev2"
check "asking again succeeds" [ $? -eq 0 ]
check "... without running the command (cache hit)" [ "$(wc -l < "$TMP/count")" -eq 1 ]
check "... and says so" grep -q 'already built' "$TMP/ev2"
check "... with the same entry and bytes" python3 -c '
import json, sys
a, b = (json.load(open(x)) for x in sys.argv[1:3])
assert a["id"] == b["id"] and a["files"][0]["sha256"] == b["files"][0]["sha256"] == sys.argv[3]
' "$TMP/o.json" "$TMP/o2.json" "$W"
# a changed recipe is another build
python3 - "$TMP/r/join.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["env"] = {"CHANGED": "1"}
json.dump(r, open(sys.argv[1], "w"))
PY
"$APCTL" pull --json "build:$TMP/r/join.json" > "$TMP/o3.json" 2> "$TMP/err"
check "a changed recipe has a new key and runs again" sh -c \
    "[ \$(wc -l < '$TMP/count') -eq 2 ] && [ \"\$(json_get() { :; }; python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"ref\"] != json.load(open(sys.argv[2]))[\"ref\"])' '$TMP/o.json' '$TMP/o3.json')\" = True ]"

# a failing command: its exit status and last output lines in the error
cat > "$TMP/r/fail.json" <<'JSON'
{"command": ["sh", "-c", "echo first line; echo second line; echo 'the last words' >&2; exit 3"],
 "outputs": ["never.bin"]}
JSON
"$APCTL" pull "build:$TMP/r/fail.json" > /dev/null 2> "$TMP/err"
rc=$?
check "a failing command fails the pull" [ $rc -ne 0 ]
check "... naming the recipe, the exit status and its last output lines" sh -c \
    "grep -q 'fail.json' '$TMP/err' && grep -q 'status 3' '$TMP/err' && grep -q 'second line | the last words' '$TMP/err'"
[ $rc -ne 0 ] && diag "$(cat "$TMP/err")"
check "... removes its work directory" workdir_empty
check "... and records nothing ready" sh -c "! '$APCTL' ls | grep 'fail' | grep -q ready"
mkdir "$TMP/bd"
"$APCTL" pull --events -o build_dir="$TMP/bd" "build:$TMP/r/fail.json" > /dev/null 2> "$TMP/evb"
check "-o build_dir=DIR: the work directory is made there, and removed" sh -c \
    "grep -q 'running sh in $TMP/bd/ap-build-' '$TMP/evb' && [ -z \"\$(ls -A '$TMP/bd')\" ]"

# several outputs, one in a subdirectory, argv placeholders, explicit env
cat > "$TMP/r/two.json" <<'JSON'
{"name": "two", "inputs": {"a": "FILES/files/model.Q8_0.gguf-split-a"},
 "command": ["sh", "-c", "mkdir -p sub && head -c 100 \"$1\" > sub/head.bin && printf '%s' \"$GREETING\" > hello.txt", "sh", "{input:a}"],
 "env": {"GREETING": "hello from {workdir}"},
 "outputs": ["hello.txt", "sub/head.bin"]}
JSON
sed -i "s|FILES|$FILES|" "$TMP/r/two.json"
"$APCTL" pull --json "build:$TMP/r/two.json" > "$TMP/o.json" 2> "$TMP/err"
check "a recipe with two outputs builds" [ $? -eq 0 ]
check "... both are files of the entry with the right bytes" python3 -c '
import json, sys, hashlib
j = json.load(open(sys.argv[1]))
f = {x["name"]: x["path"] for x in j["files"]}
assert sorted(f) == ["hello.txt", "sub/head.bin"], f
assert open(f["sub/head.bin"], "rb").read() == open(sys.argv[2], "rb").read()[:100]
h = open(f["hello.txt"]).read()
assert h.startswith("hello from " + sys.argv[3] + "/ap-build-"), h' "$TMP/o.json" "$TMP/part-a" "$TMP/work"
check "... and the work directory is gone" workdir_empty

# hostile or broken recipes: clear errors, nothing run
hostile() { # NAME JSON EXPECTED-TEXT
    printf '%s\n' "$2" > "$TMP/r/$1.json"
    "$APCTL" pull "build:$TMP/r/$1.json" > /dev/null 2> "$TMP/err"
    rc=$?
    [ $rc -ne 0 ] && grep -q "$1.json" "$TMP/err" && grep -q -- "$3" "$TMP/err" ||
        { diag "rc=$rc: $(cat "$TMP/err")"; return 1; }
}
check "an output path with .. is refused" hostile dotdot \
    '{"command": ["true"], "outputs": ["../escape.bin"]}' 'has a ".." component'
check "an absolute output path is refused" hostile abs \
    '{"command": ["true"], "outputs": ["/etc/passwd"]}' 'is absolute'
check "an unknown key is refused" hostile unknown \
    '{"command": ["true"], "outputs": ["x"], "sheel": true}' 'unknown key "sheel"'
check "a placeholder naming no input is refused" hostile noinput \
    '{"command": ["cat", "{input:missing}"], "outputs": ["x"]}' 'names no input file'
check "an input that cannot be provisioned fails naming it" hostile badinput \
    "{\"inputs\": {\"gone\": \"$FILES/files/nothere.bin\"}, \"command\": [\"true\"], \"outputs\": [\"x\"]}" 'input .*nothere.bin'
check "a recipe whose input is itself is refused" hostile selfref \
    "{\"inputs\": {\"me\": \"build:$TMP/r/selfref.json\"}, \"command\": [\"true\"], \"outputs\": [\"x\"]}" 'is the recipe itself'
check "a command not found in the recipe's PATH fails naming it" hostile notfound \
    '{"command": ["no-such-tool-xyz"], "env": {"PATH": "/nonexistent"}, "outputs": ["x"]}' 'status 127.*cannot run no-such-tool-xyz'
echo secret > "$TMP/secret.txt"
check "an output reached through a link leading out of the work directory is refused" hostile linkout \
    "{\"command\": [\"ln\", \"-s\", \"$TMP\", \"sub\"], \"outputs\": [\"sub/secret.txt\"]}" 'leads out of the work directory'
check "... an output that is itself a link is refused" hostile linkfile \
    "{\"command\": [\"ln\", \"-s\", \"$TMP/secret.txt\", \"out\"], \"outputs\": [\"out\"]}" 'symbolic link'
# a cycle through two recipes: refused by the host's guard
printf '{"inputs": {"b": "build:%s/r/cyc-b.json"}, "command": ["true"], "outputs": ["x"]}\n' "$TMP" > "$TMP/r/cyc-a.json"
printf '{"inputs": {"a": "build:%s/r/cyc-a.json"}, "command": ["true"], "outputs": ["x"]}\n' "$TMP" > "$TMP/r/cyc-b.json"
"$APCTL" pull "build:$TMP/r/cyc-a.json" > /dev/null 2> "$TMP/err"
check "a cycle of recipes is refused, naming the input" sh -c \
    "[ $? -ne 0 ] && grep -q 'cyc-a.json: input build:.*cyc-b.json: .*already being provisioned' '$TMP/err'"
[ $? -eq 0 ] || diag "$(cat "$TMP/err")"
# builds on builds: a chain of 8 nested inputs works, one of 9 is refused
chain() { # N: recipes c0 .. cN, each made from the next, cN from nothing
    k=0
    while [ $k -lt "$1" ]; do
        printf '{"inputs": {"in": "build:%s/r/c%d.json"}, "command": ["cp", "{input:in}", "x"], "outputs": ["x"]}\n' \
            "$TMP" $((k + 1)) > "$TMP/r/c$k.json"
        k=$((k + 1))
    done
    printf '{"command": ["sh", "-c", "echo leaf > x"], "outputs": ["x"]}\n' > "$TMP/r/c$k.json"
}
chain 8
"$APCTL" pull --json "build:$TMP/r/c0.json" > "$TMP/o.json" 2> "$TMP/err"
check "builds on builds, 8 deep, give the leaf's bytes" sh -c \
    "[ \"\$(cat \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"files\"][0][\"path\"])' '$TMP/o.json')\")\" = leaf ]"
rm -f "$TMP"/r/c*.json
chain 9
"$APCTL" pull "build:$TMP/r/c0.json" > /dev/null 2> "$TMP/err"
check "... 9 deep is refused" sh -c "[ $? -ne 0 ] && grep -q 'nested deeper than 8' '$TMP/err'"
[ $? -eq 0 ] || diag "$(cat "$TMP/err")"
rm -f "$TMP"/r/c*.json
check "nothing ran for them and no work directory is left" sh -c \
    "[ \$(wc -l < '$TMP/count') -eq 2 ] && [ -z \"\$(ls -A '$TMP/work')\" ]"

# while an input downloads (about a second here), the build's own job keeps
# its heartbeat and says when the input's file is in place
printf '{"inputs": {"s": "%s/files/slow.bin"}, "command": ["cp", "{input:s}", "out"], "outputs": ["out"]}\n' \
    "$FILES" > "$TMP/r/slowin.json"
"$APCTL" pull --events --heartbeat 100 "build:$TMP/r/slowin.json" > /dev/null 2> "$TMP/evs"
check "a slow input: the build succeeds" [ $? -eq 0 ]
check "... its job heartbeats while the input downloads" \
    sh -c "[ \$(grep '\"event\":\"heartbeat\"' '$TMP/evs' | grep -c '\"phase\":\"resolving\"') -ge 2 ]"
check "... and logs the input's file in place" grep -q '"event":"log".*input .*slow.bin: files/slow.bin in place' "$TMP/evs"

# the progress protocol: a `progress 1/4` line reaches the events as the
# file's progress (the command waits for the test to have seen it)
cat > "$TMP/r/prog.json" <<JSON
{"shell": true, "command": "echo 'progress 1/4'; while [ ! -e '$TMP/go' ]; do sleep 0.05; done; echo x > out.txt", "outputs": ["out.txt"]}
JSON
"$APCTL" pull --events --heartbeat 100 "build:$TMP/r/prog.json" > /dev/null 2> "$TMP/evp" &
A=$!
i=0
while ! grep -q '"file_done":1,"file_total":4' "$TMP/evp" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 500 ] && break; sleep 0.02
done
touch "$TMP/go"
wait $A
rc=$?
check "progress DONE/TOTAL reaches the events as file_done/file_total" \
    grep -q '"file":"out.txt".*"file_done":1,"file_total":4' "$TMP/evp"
check "... and the build then completes" [ $rc -eq 0 ]
# a build output is made here: verification "local", not "unverified"; with
# --require-verified the inputs must be verifiable themselves
check "a build output records verification local" \
    [ "$(json_get "$TMP/o.json" 'j["files"][0]["verification"]')" = local ]
AP_HOME="$TMP/home-rv" "$APCTL" pull --require-verified "build:$TMP/r/join.json" > /dev/null 2> "$TMP/err"
rc=$?
check "--require-verified: inputs without a digest refuse the build" \
    sh -c "[ $rc -ne 0 ] && grep -q 'gguf-split-a.*no digest, checksum or signature' '$TMP/err'"
diag "$(cat "$TMP/err")"
check "... and nothing is recorded ready" sh -c "! AP_HOME='$TMP/home-rv' '$APCTL' ls 2>/dev/null | grep -q '  ready  '"
done_testing
