#!/bin/sh
# What apctl pull shows while it works.  Not on a terminal: plain lines a
# log keeps (a throttled pull writes progress lines, then a summary);
# --quiet: nothing.  On a terminal (a pty of 50 columns, then resized to 80
# with SIGWINCH): bars that never exceed the width, that use the new width
# after the resize, and a summary.  "already present" only when nothing was
# fetched or imported.  A snapshot with several GGUF quantisations says the
# total and how to name one before it fetches.  A throttled snapshot of
# two files fetched in parallel, under a pty: a line per file, each with
# its own size and a count that grows, the two interleaved.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 19
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/m": {"files": {
    "slow.bin": {"generate": {"size": 1000000, "seed": 1}, "lfs": true, "faults": {"throttle_bps": 500000}},
    "config.json": {"content": "{\"a\": 1}"}}},
  "org/q": {"files": {
    "README.md": {"content": "q"},
    "m.Q4_K_M.gguf": {"generate": {"size": 300000, "seed": 2}, "lfs": true},
    "m.Q8_0.gguf": {"generate": {"size": 500000, "seed": 3}, "lfs": true}}},
  "org/two": {"files": {
    "a.bin": {"generate": {"size": 600000, "seed": 4}, "lfs": true, "faults": {"throttle_bps": 500000}},
    "b.bin": {"generate": {"size": 700000, "seed": 5}, "lfs": true, "faults": {"throttle_bps": 500000}}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# --- not a terminal: a log ---
"$APCTL" pull hf:org/m/slow.bin > "$TMP/out" 2> "$TMP/log"
check "a throttled pull into a log file succeeds" [ $? -eq 0 ]
check "... the log has progress lines (%, bytes, rate, ETA)" \
    grep -qE '^hf:org/m/slow.bin: [0-9]+% [0-9.]+ [KM]iB / 976.6 KiB, [0-9.]+ [KM]iB/s, ETA ' "$TMP/log"
check "... and a summary: files, size, time, mean rate, bytes fetched" \
    grep -qE '^hf:org/m/slow.bin: 1 file, 976.6 KiB in [0-9.]+s \([0-9.]+ [KM]iB/s\), 976.6 KiB fetched$' "$TMP/log"
check "... no escape sequence, no carriage return in the log" sh -c "! grep -q \"\$(printf '[\\033\\r]')\" '$TMP/log'"
diag "$(cat "$TMP/log")"
check "stdout has the path only" [ "$(cat "$TMP/out")" = "$AP_HOME/models/huggingface/org/m/slow.bin" ]
AP_HOME="$TMP/q" "$APCTL" pull --quiet hf:org/q/m.Q8_0.gguf > "$TMP/out" 2> "$TMP/log"
check "--quiet: no progress, no summary, not even the path" sh -c "[ $? -eq 0 ] && [ ! -s '$TMP/log' ] && [ ! -s '$TMP/out' ]"

# --- already present: only when nothing was fetched or imported ---
"$APCTL" pull hf:org/m/slow.bin > "$TMP/out" 2> "$TMP/log"
check "a second pull says already present, and no summary" sh -c \
    "grep -q 'hf:org/m/slow.bin: already present' '$TMP/out' && ! grep -q 'fetched' '$TMP/log'"
AP_HOME="$TMP/pub" "$APCTL" pull --quiet --hf-cache="$TMP/hfc" hf:org/m/config.json > /dev/null 2>&1
HF_HUB_CACHE="$TMP/hfc" AP_HOME="$TMP/imp" "$APCTL" pull hf:org/m/config.json > "$TMP/out" 2> "$TMP/log"
check "a pull that imports from the HF cache does not say already present" sh -c \
    "[ $? -eq 0 ] && ! grep -q 'already present' '$TMP/out' && grep -q 'config.json' '$TMP/out'"
check "... its summary says 0 B fetched" grep -q '^hf:org/m/config.json: 1 file, .* 0 B fetched$' "$TMP/log"

# --- several GGUF quantisations in a snapshot ---
AP_HOME="$TMP/gq" "$APCTL" pull --quiet --events hf:org/q > /dev/null 2> "$TMP/ev"
AP_HOME="$TMP/g" "$APCTL" pull hf:org/q > /dev/null 2> "$TMP/log"
check "a snapshot with two quantisations says the total and names them first" \
    grep -q '^2 GGUF quantisations to fetch, 781.3 KiB in all: Q4_K_M (293.0 KiB), Q8_0 (488.3 KiB)' "$TMP/log"
check "... with the grammar that names one (:QUANT)" grep -q 'naming one quantisation fetches only it (.*:QUANT' "$TMP/log"
check "... as a log event (info) before the transfers start" python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
kinds = [e["event"] for e in ev]
i = next(i for i, e in enumerate(ev) if e["event"] == "log" and "GGUF quantisations" in e["message"])
assert ev[i]["level"] == "info" and kinds.index("resolve") < i < kinds.index("start"), kinds' "$TMP/ev"
AP_HOME="$TMP/g1" "$APCTL" pull hf:org/q:Q4_K_M > /dev/null 2> "$TMP/log"
check "... not when the reference names one" sh -c "[ $? -eq 0 ] && ! grep -q quantisations '$TMP/log'"

# --- on a terminal: 50 columns, then 80 ---
AP_HOME="$TMP/tty" python3 "$AP_SRC/t/helpers/pty_progress.py" 50 80 "$TMP/pty.json" -- \
    "$APCTL" pull hf:org/m/slow.bin
check "under a pty the pull succeeds, and was resized while it ran" \
    [ "$(json_get "$TMP/pty.json" 'str(j["status"]) + str(j["resized"])')" = 0True ]
check "at 50 columns no rendered line exceeds 50 (longest $(json_get "$TMP/pty.json" 'max(map(len, j["before"]))'))" \
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["before"] and all(len(l) <= 50 for l in j["before"]), [l for l in j["before"] if len(l) > 50]
assert any("[" in l and "%" in l for l in j["before"]), j["before"]' "$TMP/pty.json"
check "after the resize to 80, the bars use the width (> 50, <= 80)" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
bars = [l for l in j["after"] if "[" in l and "%" in l]
assert bars and max(map(len, bars)) > 50 and all(len(l) <= 80 for l in j["after"]), j["after"]' "$TMP/pty.json"
check "... and the summary line ends it" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert any(l.startswith("hf:org/m/slow.bin: 1 file, 976.6 KiB in ") for l in j["after"]), j["after"]' "$TMP/pty.json"

# --- on a terminal: a line per active file, each true ---
AP_HOME="$TMP/two" python3 "$AP_SRC/t/helpers/pty_progress.py" 120 120 "$TMP/pty2.json" -- \
    "$APCTL" pull hf:org/two
check "a throttled two-file snapshot under a pty succeeds" \
    [ "$(json_get "$TMP/pty2.json" 'j["status"]')" = 0 ]
check "... a line per file, each with its own total and a growing count, interleaved" python3 -c '
import json, re, sys
j = json.load(open(sys.argv[1]))
want = {"a.bin": "585.9 KiB", "b.bin": "683.6 KiB"}
seen, order = {"a.bin": [], "b.bin": []}, []
for l in j["before"] + j["after"]:
    m = re.match(r"(a\.bin|b\.bin)\s+\[[#.]*\]\s+([0-9.]+ [KM]?i?B) / ([0-9.]+ [KM]?i?B)", l)
    if m:
        assert m.group(3) == want[m.group(1)], l
        seen[m.group(1)].append(m.group(2))
        order.append(m.group(1))
def size(v):
    n, u = v.split()
    return float(n) * {"B": 1, "KiB": 1024, "MiB": 1 << 20}[u]
for f, v in seen.items():
    assert len(set(v)) >= 3, (f, v)
    assert [size(x) for x in v] == sorted(size(x) for x in v), (f, v)
# both moving at once: each file has lines between two lines of the other
ia = [i for i, f in enumerate(order) if f == "a.bin"]
assert any(ia[0] < i < ia[-1] for i, f in enumerate(order) if f == "b.bin"), order
print(len(order), {f: v[-3:] for f, v in seen.items()})' "$TMP/pty2.json"
done_testing
