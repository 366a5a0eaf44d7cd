#!/bin/sh
# The core names no vendor: no Hugging Face / Ollama name, scheme or grammar
# in lib/ or the public headers (comments about vendors in general aside),
# none baked into the library; the grammar apctl --help and the errors show
# is that of the vendors actually loaded (their `usage`).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 10

hits=$(cd "$AP_SRC" && grep -n 'huggingface\|ollama\|"hf"\|hf:' lib/*.c lib/*.h include/artifactprov/*.h)
if [ -z "$hits" ]; then ok "lib/ and include/artifactprov/ name no vendor"
else not_ok "lib/ and include/artifactprov/ name a vendor"; diag "$hits"; fi
so="$AP_BUILD/$(readlink "$AP_BUILD/libartifactprov.so.0")"
check "the shared library carries no vendor name or scheme" \
    sh -c "! strings '$so' | grep -qi 'huggingface\|ollama\|hf:'"

# with the in-tree vendors: their usage lines
AP_VENDOR_PATH="$AP_BUILD/vendors" "$APCTL" --help > "$TMP/help" 2>&1
check "apctl --help lists the Hugging Face vendor's grammar" grep -q '^  hf:\[datasets/' "$TMP/help"
check "  ... the Ollama vendor's" grep -q '^  ollama:\[SCHEME://\]\[HOST/\]\[NS/\]MODEL\[:TAG\]' "$TMP/help"
check "  ... the URL vendor's" grep -q '^  https://HOST/PATH' "$TMP/help"

# with no vendor: no grammar at all
mkdir -m 755 "$TMP/novendors"
AP_VENDOR_PATH="$TMP/novendors" AP_VENDORDIR= "$APCTL" --help > "$TMP/help0" 2>&1
check "apctl --help with no vendor loaded shows no scheme of its own" \
    sh -c "grep -q 'no vendor loaded' '$TMP/help0' && ! grep -q 'hf:\|ollama:\|gh:' '$TMP/help0'"

AP_VENDOR_PATH="$AP_BUILD/vendors" "$APCTL" pull 'no reference' > /dev/null 2> "$TMP/err"
check "a bad reference lists the loaded vendors' usage" \
    sh -c "grep -q 'hf:\[datasets/' '$TMP/err' && grep -q 'ollama:\[SCHEME://\]\[HOST/\]' '$TMP/err' && grep -q 'gh:OWNER/REPO' '$TMP/err'"
AP_VENDOR_PATH="$AP_BUILD/vendors" "$APCTL" pull 'zz:thing' > /dev/null 2> "$TMP/err"
check "an unknown scheme names it and lists the loaded vendors' usage" \
    sh -c "grep -q \"scheme 'zz:'\" '$TMP/err' && grep -q 'https://HOST/PATH' '$TMP/err'"
AP_VENDOR_PATH="$TMP/novendors" "$APCTL" pull 'zz:thing' > /dev/null 2> "$TMP/err"
check "with no vendor loaded the error says so" grep -q 'no vendor is loaded' "$TMP/err"
AP_VENDOR_PATH="$AP_BUILD/vendors" "$APCTL" vendors > "$TMP/vendors" 2>&1
check "apctl vendors lists every in-tree vendor with its schemes" sh -c "
    grep -q '^build .*schemes: build:' '$TMP/vendors' &&
    grep -q '^github .*schemes: gh: github:' '$TMP/vendors' &&
    grep -q '^huggingface .*schemes: hf:' '$TMP/vendors' &&
    grep -q '^ollama .*schemes: ollama:' '$TMP/vendors' &&
    grep -q '^url .*schemes: https: http:' '$TMP/vendors'"
done_testing
