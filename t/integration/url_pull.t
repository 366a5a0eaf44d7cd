#!/bin/sh
# Plain URL references through the engine: digest fragment, faults healed by
# retries/resume, faults that must fail cleanly, and cross-vendor dedup.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 25
gen_bytes 6000000 11 > "$TMP/a.bin"
A=$(sha256 "$TMP/a.bin")
gen_bytes 3000000 12 > "$TMP/b.bin"
B=$(sha256 "$TMP/b.bin")   # not in the store: the corrupt download must not land
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "a.bin":     {"generate": {"size": 6000000, "seed": 11}},
  "rate.bin":  {"generate": {"size": 2000000, "seed": 13}},
  "host.bin":  {"generate": {"size": 6000000, "seed": 14}},
  "prog.bin":  {"generate": {"size": 6000000, "seed": 15}},
  "drop.bin":  {"generate": {"size": 6000000, "seed": 11}, "faults": {"drop_at": 2500000, "times": 2}},
  "r503.bin":  {"generate": {"size": 6000000, "seed": 11}, "faults": {"status": 503, "retry_after": 1, "times": 1}},
  "norange.bin": {"generate": {"size": 6000000, "seed": 11}, "faults": {"ignore_range": true}},
  "badcr.bin": {"generate": {"size": 6000000, "seed": 11}, "faults": {"bad_content_range": true, "times": 3}},
  "short.bin": {"generate": {"size": 6000000, "seed": 11}, "faults": {"wrong_length": true}},
  "evil.bin":  {"generate": {"size": 3000000, "seed": 12}, "faults": {"corrupt_at": 2000000}}
}}
JSON
start_hub "$TMP/cfg.json"
pull() { "$APCTL" pull --json --chunk-size 1048576 --max-attempts 4 "$@"; }

pull "$FILES/files/a.bin#sha256=$A" > "$TMP/o.json" 2> "$TMP/err"
check "pull with #sha256 succeeds" [ $? -eq 0 ]
p=$(json_get "$TMP/o.json" 'j["files"][0]["path"]')
check "bytes on disk are right" sh -c "[ \"\$(sha256sum '$p' | cut -d' ' -f1)\" = $A ]"
check "several ranged connections were used" sh -c \
  "[ \$(grep '/files/a.bin' '$FH_LOG' | grep -c '\"range\"') -ge 4 ]"

pull "$FILES/files/drop.bin#sha256=$A" > "$TMP/o.json" 2> "$TMP/err"
check "dropped connections are retried to a correct file" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
pull "$FILES/files/r503.bin#sha256=$A" > /dev/null 2>&1
check "503 with Retry-After is retried" [ $? -eq 0 ]
pull "$FILES/files/norange.bin#sha256=$A" > "$TMP/o.json" 2> "$TMP/err"
check "200 instead of 206 still gives the right file" [ $? -eq 0 ]
p=$(json_get "$TMP/o.json" 'j["files"][0]["path"]')
check "  ... and its bytes are right" sh -c "[ \"\$(sha256sum '$p' | cut -d' ' -f1)\" = $A ]"
pull "$FILES/files/badcr.bin#sha256=$A" > /dev/null 2> "$TMP/err"
check "a wrong Content-Range never lands wrong bytes" sh -c \
  "[ $? -eq 0 ] || grep -qi 'content-range' '$TMP/err'"

pull "$FILES/files/short.bin#sha256=$A" > /dev/null 2> "$TMP/err"
rc=$?
check "a body shorter than Content-Length never ends as a complete file" sh -c \
  "[ $rc -ne 0 ] || [ \"\$(sha256sum \$(find '$AP_HOME/models' -name short.bin) | cut -d' ' -f1)\" = $A ]"
pull "$FILES/files/evil.bin#sha256=$B" > /dev/null 2> "$TMP/err"
rc=$?
check "wrong bytes fail with want/got" sh -c \
  "[ $rc -ne 0 ] && grep -q 'sha256 mismatch' '$TMP/err' && grep -q 'evil.bin' '$TMP/err'"
check "  ... and leave nothing visible" sh -c "! find '$AP_HOME/models' -name evil.bin | grep -q ."
"$APCTL" pull "$FILES/files/nothere.bin" > /dev/null 2> "$TMP/err"
check "404 fails, naming the URL" sh -c "grep -q 'nothere.bin' '$TMP/err' && grep -qi '404\\|not found' '$TMP/err'"
check "  ... once: 'apctl: URL: HTTP 404', not the URL twice" \
    grep -qx "apctl: $FILES/files/nothere.bin: HTTP 404" "$TMP/err"
[ "$(grep -c '^apctl: ' "$TMP/err")" -eq 1 ] || diag "$(cat "$TMP/err")"
"$APCTL" pull --max-attempts 2 "$FILES/loop/a" > /dev/null 2> "$TMP/err"
check "redirect loop fails clearly" sh -c "grep -qi 'redirect' '$TMP/err'"
"$APCTL" pull "https://x/y#sha256=zz" > /dev/null 2> "$TMP/err"
check "bad digest fragment is an invalid reference" grep -q 'sha256' "$TMP/err"

# progress of a plain URL (no size given): the response tells the total, the
# bar is never "x / 0 B", and the pull ends at 100 %; the same blob again
# is in place at once (100 %, 0 bytes fetched)
"$APCTL" pull --events --quiet --chunk-size 1048576 "$FILES/files/prog.bin" \
    > /dev/null 2> "$TMP/ev"
check "a URL pull's progress events know the total the response announced" python3 -c '
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
prog = [e for e in evs if e["event"] == "progress"]
assert prog and all(e["bytes_total"] == 6000000 for e in prog), prog[:3]
assert any(0 < e["bytes_done"] < 6000000 and e["percent"] is not None for e in prog)' "$TMP/ev"
check "  ... and end at 100 % with every byte fetched" python3 -c '
import json, sys
done = [json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"done\"" in l][-1]
assert done["bytes_done"] == done["bytes_total"] == done["fetched_bytes"] == 6000000, done
assert done["percent"] == 100, done' "$TMP/ev"
"$APCTL" pull --events --quiet "$FILES/files/prog.bin#sha256=$(gen_bytes 6000000 15 | sha256sum | cut -d" " -f1)" \
    > /dev/null 2> "$TMP/ev3"
check "  ... a blob already in the store counts as done: 100 %, 0 bytes fetched" python3 -c '
import json, sys
done = [json.loads(l) for l in open(sys.argv[1]) if "\"event\":\"done\"" in l][-1]
assert done["bytes_done"] == done["bytes_total"] == 6000000 and done["fetched_bytes"] == 0, done
assert done["percent"] == 100, done' "$TMP/ev3"

# bandwidth cap: 2 MB at 1 MB/s cannot take less than ~2 s (a lower bound
# only: a loaded machine makes it slower, never faster)
gen_bytes 2000000 13 > "$TMP/r.bin"
t0=$(date +%s%N)
"$APCTL" pull --quiet --max-rate 1000000 "$FILES/files/rate.bin#sha256=$(sha256 "$TMP/r.bin")" 2> "$TMP/err"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "--max-rate 1000000 caps the transfer (2 MB took $ms ms)" sh -c "[ $rc -eq 0 ] && [ $ms -ge 1500 ]"
gen_bytes 6000000 14 > "$TMP/h.bin"
"$APCTL" pull --quiet --connections 8 --per-host 2 --chunk-size 1048576 \
    "$FILES/files/host.bin#sha256=$(sha256 "$TMP/h.bin")" 2> "$TMP/err"
nconn=$(python3 -c '
import json, sys
c = set()
for line in open(sys.argv[1]):
    j = json.loads(line)
    if "/files/host.bin" in j["path"]:
        c.add(j["conn"])
print(len(c))' "$FH_LOG")
check "--per-host 2 keeps to 2 connections ($nconn used)" sh -c "[ $? -eq 0 ] && [ $nconn -le 2 ] && [ $nconn -ge 1 ]"

# several references in one call, as concurrent jobs
"$APCTL" pull --json --jobs 3 "$FILES/files/a.bin#sha256=$A" "$FILES/files/rate.bin" \
    "$FILES/files/host.bin" > "$TMP/many.json" 2> "$TMP/err"
check "pull of three references at once" [ $? -eq 0 ]
check "  ... prints a JSON array of three ready entries" [ "$(json_get "$TMP/many.json" \
    'sum(1 for e in j if e["status"] == "ready")')" = 3 ]
"$APCTL" pull --json --jobs 2 "$FILES/files/nothere.bin" "$FILES/files/a.bin" > "$TMP/m2.json" 2> "$TMP/err"
rc=$?
check "  ... one failing reference (a 404: exit 3) makes the call fail, naming it; the JSON lists the rest" sh -c \
    "[ $rc -eq 3 ] && grep -q nothere.bin '$TMP/err' && [ \"\$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' '$TMP/m2.json')\" = 1 ]"

# same bytes through another vendor: dedup by content, 0 bytes fetched
cat > "$TMP/cfg2.json" <<JSON
{"repos": {"org/dup": {"files": {"a.bin": {"generate": {"size": 6000000, "seed": 11}, "lfs": true}}}}}
JSON
cp "$TMP/cfg2.json" "$TMP/cfg.json.new"; mv "$TMP/cfg.json.new" "$TMP/cfg.json"
n=$(grep -c '"server": *"cdn"' "$FH_LOG")
HF_ENDPOINT="$HUB" "$APCTL" pull --json hf:org/dup/a.bin > "$TMP/o.json" 2> "$TMP/err"
check "same blob via huggingface: success" [ $? -eq 0 ]
fb=$(json_get "$TMP/o.json" 'j["fetched_bytes"]')
check "  ... with 0 bytes fetched (cross-vendor dedup)" sh -c \
  "[ '$fb' = 0 ] && [ \$(grep -c '\"server\": *\"cdn\"' '$FH_LOG') -eq $n ]"
done_testing
