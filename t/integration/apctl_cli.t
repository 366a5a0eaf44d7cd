#!/bin/sh
# apctl as a command line: every command's --help prints its help and acts
# on nothing (the store unchanged, byte for byte); unknown options are
# refused by every command; sizes take suffixes; ls filters by status and
# gc drops old failed entries; scan of caches that do not exist succeeds
# and says what it scanned; vendors are found beside the executable
# without AP_VENDOR_PATH, and their absence names the directories searched.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 27
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/m": {"files": {
  "config.json": {"content": "{\"a\": 1}"},
  "w.bin": {"generate": {"size": 300000, "seed": 1}, "lfs": true},
  "gone.bin": {"generate": {"size": 1000, "seed": 2}, "lfs": true, "faults": {"status": 503}},
  "gone2.bin": {"generate": {"size": 1000, "seed": 3}, "lfs": true, "faults": {"status": 503}}
 }}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# a store with something in every place a command could change: a ready
# entry, an unreferenced blob (gc), a failed entry (gc), a staging file
"$APCTL" pull --quiet hf:org/m/w.bin > /dev/null 2> "$TMP/err" || diag "$(cat "$TMP/err")"
"$APCTL" pull --quiet --max-attempts 1 hf:org/m/gone.bin > /dev/null 2>&1
d="$AP_HOME/blobs/sha256/00"
mkdir -p "$d" && printf 'stray' > "$d/00$(printf '%062d' 0)"
touch -d '3 days ago' "$d/00$(printf '%062d' 0)"
mkdir -p "$AP_HOME/staging" && printf 'x' > "$AP_HOME/staging/old.part"
touch -d '3 days ago' "$AP_HOME/staging/old.part"
# the failed entry is 30 days old
doc=$(grep -l '"failed"' "$AP_HOME"/catalog/*.json | head -n 1)
python3 -c '
import json, sys, time
d = json.load(open(sys.argv[1])); d["updated"] = int(time.time()) - 30 * 86400
json.dump(d, open(sys.argv[1], "w"))' "$doc"
snap() { find "$AP_HOME" -printf '%p %s %T@\n' | LC_ALL=C sort; find "$AP_HOME" -type f -exec sha256sum {} + | LC_ALL=C sort; }
snap > "$TMP/before"

# --- every command of `apctl --help`, with --help, -h and `apctl help CMD` ---
"$APCTL" --help > "$TMP/help" 2>&1
check "apctl --help exits 0" [ $? -eq 0 ]
sed -n '/^commands/,/^options/p' "$TMP/help" | sed -n 's/^  \([a-z][a-z]*\).*/\1/p' > "$TMP/cmds"
check "apctl --help lists the commands ($(tr '\n' ' ' < "$TMP/cmds"))" \
    sh -c "[ \$(wc -l < '$TMP/cmds') -ge 12 ] && grep -qx gc '$TMP/cmds' && grep -qx verify '$TMP/cmds'"
bad=
for c in $(cat "$TMP/cmds"); do
    for form in "$c --help" "$c -h" "help $c" "$c x --help"; do
        # shellcheck disable=SC2086
        "$APCTL" $form > "$TMP/o" 2> "$TMP/e"
        rc=$?
        if [ $rc -ne 0 ] || ! head -n 1 "$TMP/o" | grep -q "^usage: apctl $c" || [ -s "$TMP/e" ]; then
            bad="$bad [$form: $rc $(head -n 1 "$TMP/o") $(head -n 1 "$TMP/e")]"
        fi
    done
done
check "every command's --help / -h / help CMD prints its usage and exits 0" [ -z "$bad" ]
[ -z "$bad" ] || diag "$bad"
snap > "$TMP/after"
check "... and none of them acted: the store is unchanged" cmp -s "$TMP/before" "$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || diag "$(diff "$TMP/before" "$TMP/after" | head -n 10)"
check "a command's help lists the exit statuses" sh -c \
    "'$APCTL' gc --help | grep -q '^  4    network' && '$APCTL' pull --help | grep -q -- '--max-rate SIZE'"

# --- unknown options are refused by every command, before it acts ---
bad=
for c in $(cat "$TMP/cmds"); do
    "$APCTL" "$c" --no-such-option > "$TMP/o" 2> "$TMP/e"
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q -- "--no-such-option" "$TMP/e"; then
        bad="$bad [$c: $rc $(head -n 1 "$TMP/e")]"
    fi
done
check "every command refuses an unknown option (exit 2, naming it)" [ -z "$bad" ]
[ -z "$bad" ] || diag "$bad"
"$APCTL" ls --json --bogus > /dev/null 2>&1
check "ls refuses an unknown option after a known one" [ $? -eq 2 ]
snap > "$TMP/after"
check "... and the store is still unchanged" cmp -s "$TMP/before" "$TMP/after"
"$APCTL" frobnicate > /dev/null 2> "$TMP/e"
check "an unknown command: exit 2, named" sh -c "[ $? -eq 2 ] && grep -q frobnicate '$TMP/e'"
"$APCTL" pull > /dev/null 2> "$TMP/e"
check "pull without a reference: exit 2" [ $? -eq 2 ]

# --- sizes take suffixes ---
"$APCTL" pull --max-rate 10X hf:org/m/config.json > /dev/null 2> "$TMP/e"
check "--max-rate 10X: exit 2, says what a size is" sh -c "[ $? -eq 2 ] && grep -q '10M' '$TMP/e'"
"$APCTL" pull --chunk-size 1.5M hf:org/m/config.json > /dev/null 2>&1
check "--chunk-size 1.5M: exit 2" [ $? -eq 2 ]
n0=$(count_log 'r["server"]=="cdn" and r["status"]==206')
AP_HOME="$TMP/h2" "$APCTL" pull --quiet --chunk-size 64K --max-rate 10M --connections 2 \
    hf:org/m/w.bin > "$TMP/o" 2> "$TMP/e"
check "--chunk-size 64K --max-rate 10M: the pull succeeds" [ $? -eq 0 ]
n1=$(count_log 'r["server"]=="cdn" and r["status"]==206')
check "... in ranged requests of 64 KiB (300000 bytes: 5 ranges, got $((n1 - n0)))" [ $((n1 - n0)) -eq 5 ]
AP_HOME="$TMP/h3" "$APCTL" pull --quiet --chunk-size=131072 hf:org/m/w.bin > /dev/null 2>&1
check "a plain number of bytes, --opt=VALUE form" [ $? -eq 0 ]

# --- ls --status, gc of failed entries ---
"$APCTL" ls --status failed > "$TMP/o"
check "ls --status failed lists the failed entry only" sh -c \
    "grep -q 'failed .*hf:org/m/gone.bin' '$TMP/o' && ! grep -q 'w.bin' '$TMP/o'"
"$APCTL" ls --status ready --json > "$TMP/o"
check "ls --status ready --json: the ready entry only" \
    [ "$(json_get "$TMP/o" '",".join(e["ref"] + ":" + e["status"] for e in j)')" = "hf:org/m/w.bin:ready" ]
"$APCTL" ls --status bogus > /dev/null 2>&1
check "ls --status bogus: exit 2" [ $? -eq 2 ]
"$APCTL" pull --quiet --max-attempts 1 hf:org/m/gone2.bin > /dev/null 2>&1
"$APCTL" gc > "$TMP/o" 2>&1
check "gc removes the failed entry 30 days old" sh -c \
    "grep -q 'removed failed entry .*hf:org/m/gone.bin)' '$TMP/o' && [ \$('$APCTL' ls --status failed | grep -c '^huggingface') -eq 1 ]"
check "... keeps the one that just failed, and the ready entry" sh -c \
    "'$APCTL' ls --status failed | grep -q 'gone2.bin' && '$APCTL' path hf:org/m/w.bin > /dev/null"
"$APCTL" gc --failed-age 0 > "$TMP/o" 2>&1
check "gc --failed-age 0 removes every failed entry" sh -c \
    "grep -q 'removed failed entry' '$TMP/o' && [ -z \"\$('$APCTL' ls --status failed)\" ]"
check "no zero-byte staging file is left by the failed pulls" \
    sh -c "[ -z \"\$(find '$AP_HOME/staging' -type f -size 0)\" ]"

# --- scan: caches that do not exist ---
HF_HOME="$TMP/nohf" OLLAMA_MODELS="$TMP/noollama" "$APCTL" scan > "$TMP/o" 2> "$TMP/e"
rc=$?
check "scan with no cache anywhere succeeds (exit $rc)" [ $rc -eq 0 ]
check "... and says which caches it scanned" sh -c \
    "grep -q '^huggingface: no cache' '$TMP/o' && grep -q '^ollama: no cache' '$TMP/o'"
[ $rc -eq 0 ] || diag "$(cat "$TMP/o" "$TMP/e")"
"$APCTL" scan --hf-cache="$TMP/nothere" > "$TMP/o" 2>&1
check "scan --hf-cache=DIR of a missing DIR: exit 0, naming it" sh -c \
    "[ $? -eq 0 ] && grep -q 'nothere' '$TMP/o'"

# --- vendors beside the executable, without AP_VENDOR_PATH ---
env -u AP_VENDOR_PATH "$APCTL" vendors > "$TMP/o" 2>&1
check "without AP_VENDOR_PATH, apctl loads the vendors beside it ($AP_BUILD/vendors)" \
    grep -q "^huggingface .*($AP_BUILD/vendors/ap-vendor-huggingface.so)" "$TMP/o"
mkdir -p "$TMP/bin" && cp "$APCTL" "$TMP/bin/apctl"
env -u AP_VENDOR_PATH "$TMP/bin/apctl" pull hf:org/m/config.json > /dev/null 2> "$TMP/e"
rc=$?
check "no vendor: exit 3, says so once and names the directories searched" sh -c \
    "[ $rc -eq 3 ] && [ \$(grep -o 'AP_VENDOR_PATH' '$TMP/e' | wc -l) -eq 1 ] && grep -q 'no vendor is loaded' '$TMP/e' && grep -q '$TMP/bin/vendors' '$TMP/e'"
diag "$(cat "$TMP/e")"
done_testing
