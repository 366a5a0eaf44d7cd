#!/bin/sh
# Pulled model files carry architecture and parameter count from their
# header in the catalog (apctl show --json and the text of apctl show):
# a GGUF with general.parameter_count, one without it (counted from the
# tensor shapes) whose header holds a 2 MiB string and a 150,000-string
# token array, a safetensors file (shapes), and a GGUF whose header is
# corrupt (name-based fields only).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 18
MK="$AP_SRC/t/fixtures/mkgguf.py"
python3 "$MK" "$TMP/a.gguf" --size 200000 --file-type 15
python3 "$MK" "$TMP/b.gguf" --size 100000 --file-type 7 --arch qwen2 \
    --no-parameter-count --tokens 150000 --seed b
head -c 300 "$TMP/a.gguf" > "$TMP/c.gguf"          # header cut short
python3 "$MK" "$TMP/e.gguf" --size 50000 --arch "$(printf 'x\033[2J\033]0;t\007y')" --seed e
python3 - "$TMP/d.safetensors" <<'PY'
import json, struct, sys
h = json.dumps({"w": {"dtype": "BF16", "shape": [3, 5], "data_offsets": [0, 30]},
                "b": {"dtype": "BF16", "shape": [7], "data_offsets": [30, 44]}}).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * 44)
PY
C1=2222222222222222222222222222222222222222
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/m": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
   "a.gguf": {"source": "$TMP/a.gguf", "lfs": true},
   "tok.gguf": {"source": "$TMP/b.gguf", "lfs": true},
   "c.Q5_K_M.gguf": {"source": "$TMP/c.gguf", "lfs": true},
   "d.safetensors": {"source": "$TMP/d.safetensors", "lfs": true},
   "e.gguf": {"source": "$TMP/e.gguf", "lfs": true}
 }}}}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

f() { json_get "$TMP/$1.json" "$2"; }
for x in a.gguf tok.gguf c.Q5_K_M.gguf d.safetensors e.gguf; do
    "$APCTL" pull --quiet "hf:org/m/$x" > /dev/null 2> "$TMP/err" ||
        diag "pull $x: $(cat "$TMP/err")"
    "$APCTL" show --json "hf:org/m/$x" > "$TMP/$x.json" 2> "$TMP/err" ||
        diag "show $x: $(cat "$TMP/err")"
done

F='j["files"][0]'
check "gguf: architecture from general.architecture" \
    [ "$(f a.gguf "$F[\"architecture\"]")" = llama ]
check "gguf: parameters from general.parameter_count" \
    [ "$(f a.gguf "$F[\"parameters\"]")" = 1100000 ]
check "gguf: precision from general.file_type" \
    [ "$(f a.gguf "$F[\"precision\"]")" = q4_k_m ]
check "big header: architecture" [ "$(f tok.gguf "$F[\"architecture\"]")" = qwen2 ]
check "big header: precision from the header, not the name" \
    [ "$(f tok.gguf "$F[\"precision\"]")" = q8_0 ]
check "big header: parameters counted from the tensor shapes (16x4 + 8)" \
    [ "$(f tok.gguf "$F[\"parameters\"]")" = 72 ]
check "corrupt header: entry ready" [ "$(f c.Q5_K_M.gguf 'j["status"]')" = ready ]
check "corrupt header: precision from the name" \
    [ "$(f c.Q5_K_M.gguf "$F[\"precision\"]")" = q5_k_m ]
check "corrupt header: no architecture" \
    [ "$(f c.Q5_K_M.gguf "$F.get(\"architecture\")")" = None ]
check "corrupt header: no parameters" \
    [ "$(f c.Q5_K_M.gguf "$F.get(\"parameters\", 0)")" = 0 ]
check "safetensors: parameters from the shapes (15 + 7)" \
    [ "$(f d.safetensors "$F[\"parameters\"]")" = 22 ]
check "safetensors: precision bf16" [ "$(f d.safetensors "$F[\"precision\"]")" = bf16 ]
check "safetensors: no architecture" \
    [ "$(f d.safetensors "$F.get(\"architecture\")")" = None ]

"$APCTL" show "hf:org/m/a.gguf" > "$TMP/show.txt" 2>&1
check "apctl show prints the architecture and parameters" \
    grep -q 'q4_k_m llama 1100000 params' "$TMP/show.txt"
"$APCTL" ls > "$TMP/ls.txt" 2>&1
check "apctl ls prints them too" grep -q 'qwen2 72 params' "$TMP/ls.txt"
# an architecture from a hostile header reaches the terminal escaped
"$APCTL" show "hf:org/m/e.gguf" > "$TMP/e.txt" 2>&1
check "hostile architecture: no control byte on the terminal" \
    sh -c "! grep -q \"\$(printf '[\\033\\007]')\" '$TMP/e.txt'"
check "hostile architecture: kept whole in the JSON" \
    [ "$(f e.gguf "$F[\"architecture\"] == 'x\\x1b[2J\\x1b]0;t\\x07y'")" = True ]
# the catalog document keeps them (re-read from disk by a new process)
check "catalog document holds architecture and parameters" sh -c \
    "grep -rl '\"architecture\": *\"qwen2\"' '$AP_HOME' --include='*.json' |
     xargs grep -l '\"parameters\": *72' | grep -q ."
done_testing
