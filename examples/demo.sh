#!/bin/sh
# make demo: pull a small generated GGUF model from the bundled fake
# Hugging Face hub (this machine has no internet), with the live progress
# bar, then show what the catalog recorded.  Nothing outside a temp dir is
# touched.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
B="$SRC/build"
T=$(mktemp -d "${TMPDIR:-/tmp}/apdemo.XXXXXX")
trap 'kill $FH 2>/dev/null; wait $FH 2>/dev/null; rm -rf "$T"' EXIT INT TERM
C=0123456789abcdef0123456789abcdef01234567
echo "== generating a 24 MiB GGUF (Q4_K_M header) for the fake hub"
python3 "$SRC/t/fixtures/mkgguf.py" "$T/TinyDemo.Q4_K_M.gguf" --size 25165824
cat > "$T/cfg.json" <<JSON
{"repos": {"demo/TinyDemo-GGUF": {"refs": {"main": "$C"}, "commits": {"$C": {"files": {
  "TinyDemo.Q4_K_M.gguf": {"source": "$T/TinyDemo.Q4_K_M.gguf", "lfs": true,
                           "faults": {"throttle_bps": 1000000}},
  "config.json": {"content": "{\"model_type\": \"llama\"}"}}}}}}}
JSON
python3 "$SRC/t/fixtures/fakehub.py" --config "$T/cfg.json" --log "$T/log" \
    --ready-file "$T/ready" >/dev/null &
FH=$!
while [ ! -s "$T/ready" ]; do sleep 0.05; done
HF_ENDPOINT=$(sed 's/.*"hub":"\([^"]*\)".*/\1/' "$T/ready")
export HF_ENDPOINT AP_HOME="$T/home" AP_VENDOR_PATH="$B/vendors"
echo "== fake hub at $HF_ENDPOINT (LFS bytes come from a CDN on 127.0.0.2)"
echo "== apctl pull hf:demo/TinyDemo-GGUF/TinyDemo.Q4_K_M.gguf  (Ctrl-C cancels)"
"$B/apctl" pull hf:demo/TinyDemo-GGUF/TinyDemo.Q4_K_M.gguf
echo "== apctl pull again: nothing to fetch"
"$B/apctl" pull hf:demo/TinyDemo-GGUF/TinyDemo.Q4_K_M.gguf
echo "== apctl ls"
"$B/apctl" ls
echo "== apctl pull --json hf:demo/TinyDemo-GGUF/config.json"
"$B/apctl" pull --json hf:demo/TinyDemo-GGUF/config.json
