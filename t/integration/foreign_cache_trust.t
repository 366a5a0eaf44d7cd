#!/bin/sh
# Foreign caches are not trusted (issue 8, "Content trust" and "The file
# system"): every digest recorded from an HF cache or an Ollama store is
# computed from the bytes imported; an import never shares an inode with the
# foreign file unless --link asks for it; no read follows a symlink out of
# the cache; a FIFO planted where a file is expected never blocks.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 49
C1=1212121212121212121212121212121212121212
CFG_GOOD='{"hidden_size": 64, "good": true}'
printf '%s' "$CFG_GOOD" > "$TMP/good.json"
printf '{"hidden_size": 66, "evil": true}' > "$TMP/evil.json"
gen_bytes 300000 71 > "$TMP/w.bin"
gen_bytes 300000 72 > "$TMP/evilw.bin"
gen_bytes 200000 73 > "$TMP/plain.bin"
gen_bytes 4000 74 > "$TMP/secret.bin"
chmod 600 "$TMP/secret.bin"
W=$(sha256 "$TMP/w.bin")
EW=$(sha256 "$TMP/evilw.bin")
E=$(sha256 "$TMP/evil.json")
G=$(sha256 "$TMP/good.json")
P=$(sha256 "$TMP/plain.bin")
SECRET=$(sha256 "$TMP/secret.bin")
git_sha1() {
    python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"
}
GIT=$(git_sha1 "$TMP/good.json")
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/r": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
   "config.json": {"source": "$TMP/good.json"},
   "w.bin": {"source": "$TMP/w.bin", "lfs": true}}}}}},
 "files": {"evil.json": {"source": "$TMP/evil.json"}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
blob() { echo "$1/blobs/sha256/$(echo "$2" | cut -c1-2)/$2"; }
ino() { stat -c %i "$1" 2> /dev/null || echo none; }
path_of() { json_get "$1" 'j["files"][0]["path"]' 2> /dev/null; }
# a hand-made HF cache: mkcache DIR: models--org--r with refs/main = C1
mkcache() {
    R="$1/models--org--r"
    mkdir -p "$R/blobs" "$R/snapshots/$C1" "$R/refs"
    printf '%s' "$C1" > "$R/refs/main"
}
# overwrite FILE in place (same inode) with other bytes
scribble() { chmod u+w "$1" && printf 'SCRIBBLED' | dd of="$1" bs=1 seek=10 conv=notrunc 2> /dev/null; }
verify_clean() {
    timeout 20 "$APCTL" verify > "$TMP/verify" 2>&1
    _rc=$?
    [ $_rc -eq 0 ] || diag "verify: $(cat "$TMP/verify")"
    [ $_rc -eq 0 ] && grep -q ' 0 corrupt' "$TMP/verify"
}

# === 1. a planted blob named after a real file's git blob id ================
H1="$TMP/hfc1"
mkcache "$H1"
cp "$TMP/evil.json" "$H1/models--org--r/blobs/$GIT"
ln -s "../../blobs/$GIT" "$H1/models--org--r/snapshots/$C1/config.json"
cp "$TMP/evilw.bin" "$H1/models--org--r/blobs/$W"
ln -s "../../blobs/$W" "$H1/models--org--r/snapshots/$C1/w.bin"
export AP_HOME="$TMP/s1"
timeout 20 "$APCTL" scan --hf-cache="$H1" > "$TMP/scan" 2>&1
rc=$?
diag "scan: $(cat "$TMP/scan")"
check "scan of a cache with planted blobs exits 0" [ $rc -eq 0 ]
check "  ... records neither planted file under the name it sits under" sh -c \
    "! '$APCTL' ls --json | grep -q '$GIT' && ! '$APCTL' ls --json | grep -q '\"$W\"'"
check "  ... and says which files it refused, with want and got" sh -c \
    "grep -q 'config.json' '$TMP/scan' && grep -q '$GIT' '$TMP/scan' && grep -q 'w.bin' '$TMP/scan' && grep -q '$EW' '$TMP/scan'"
timeout 20 "$APCTL" pull --json hf:org/r/config.json > "$TMP/c.json" 2> "$TMP/err"
rc=$?
check "an online pull after that scan exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
check "  ... and gives the hub's bytes, not the planted ones" cmp -s "$(path_of "$TMP/c.json")" "$TMP/good.json"
timeout 20 "$APCTL" pull --json hf:org/r/w.bin > "$TMP/w.json" 2> "$TMP/err"
check "  ... the LFS file too" cmp -s "$(path_of "$TMP/w.json")" "$TMP/w.bin"
check "  ... verify is clean" verify_clean

# === 2. a planted git-blob-id index entry =====================================
export AP_HOME="$TMP/s2"
timeout 20 "$APCTL" pull --json "$FILES/files/evil.json#sha256=$E" > /dev/null 2> "$TMP/err"
check "the planted bytes are a blob of the store (pulled by URL)" [ -f "$(blob "$AP_HOME" "$E")" ]
mkdir -p "$AP_HOME/index/git-sha1"
printf '%s' "$E" > "$AP_HOME/index/git-sha1/$GIT"
timeout 20 "$APCTL" pull --json hf:org/r/config.json > "$TMP/c2.json" 2> "$TMP/err"
rc=$?
check "a pull with index/git-sha1/<id> naming other bytes exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
check "  ... and gives the hub's bytes" cmp -s "$(path_of "$TMP/c2.json")" "$TMP/good.json"
check "  ... the index now names the right bytes (or nothing)" sh -c \
    "[ ! -e '$AP_HOME/index/git-sha1/$GIT' ] || [ \"\$(cat '$AP_HOME/index/git-sha1/$GIT')\" = '$G' ]"

# === 3. imports never share an inode with the foreign file ===================
H3="$TMP/hfc3"
mkcache "$H3"
cp "$TMP/w.bin" "$H3/models--org--r/blobs/$W"
ln -s "../../blobs/$W" "$H3/models--org--r/snapshots/$C1/w.bin"
cp "$TMP/good.json" "$H3/models--org--r/blobs/$GIT"
ln -s "../../blobs/$GIT" "$H3/models--org--r/snapshots/$C1/config.json"
export AP_HOME="$TMP/s3"
timeout 20 "$APCTL" scan --hf-cache="$H3" > "$TMP/scan" 2>&1
check "scan of a good cache exits 0" [ $? -eq 0 ]
check "  ... the store blob is not the cache's inode" \
    [ "$(ino "$(blob "$AP_HOME" "$W")")" != "$(ino "$H3/models--org--r/blobs/$W")" ]
check "  ... the regular file is recorded with the git id of its bytes" \
    grep -q "\"git_sha1\": *\"$GIT\"" "$AP_HOME"/catalog/*.json
scribble "$H3/models--org--r/blobs/$W"
check "after an in-place write into the cache file, the store blob is intact" \
    [ "$(sha256 "$(blob "$AP_HOME" "$W")")" = "$W" ]
check "  ... and verify is clean" verify_clean
cp "$TMP/w.bin" "$H3/models--org--r/blobs/$W"
# the same for a local copy offered during an online pull (HF_HUB_CACHE)
export AP_HOME="$TMP/s3b"
HF_HUB_CACHE="$H3" timeout 20 "$APCTL" pull --json hf:org/r/w.bin > "$TMP/w3.json" 2> "$TMP/err"
check "an online pull reusing the HF cache: exits 0, 0 bytes fetched" sh -c \
    "[ $? -eq 0 ] && [ \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"fetched_bytes\"])' '$TMP/w3.json')\" = 0 ]"
scribble "$H3/models--org--r/blobs/$W"
check "  ... an in-place write into the cache file leaves the store intact" sh -c \
    "[ \"\$(sha256sum '$(blob "$AP_HOME" "$W")' | cut -d' ' -f1)\" = '$W' ] && cmp -s '$(path_of "$TMP/w3.json")' '$TMP/w.bin'"
check "  ... and verify is clean" verify_clean
cp "$TMP/w.bin" "$H3/models--org--r/blobs/$W"
# offline resolution
export AP_HOME="$TMP/s3c"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$H3" timeout 20 "$APCTL" pull --json hf:org/r/w.bin > "$TMP/w4.json" 2> "$TMP/err"
check "an offline pull from the HF cache exits 0" [ $? -eq 0 ]
scribble "$H3/models--org--r/blobs/$W"
check "  ... an in-place write into the cache file leaves the store intact" \
    [ "$(sha256 "$(blob "$AP_HOME" "$W")")" = "$W" ]
check "  ... and verify is clean" verify_clean
cp "$TMP/w.bin" "$H3/models--org--r/blobs/$W"
# an Ollama store
OLL="$TMP/ollama"
mkdir -p "$OLL/blobs" "$OLL/manifests/registry.ollama.ai/library/t"
cp "$TMP/plain.bin" "$OLL/blobs/sha256-$P"
cat > "$OLL/manifests/registry.ollama.ai/library/t/latest" <<JSON
{"schemaVersion": 2, "layers": [
 {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:$P", "size": 200000}]}
JSON
export AP_HOME="$TMP/s3d"
timeout 20 "$APCTL" scan --ollama="$OLL" > "$TMP/scan" 2>&1
check "scan --ollama exits 0 and imports the layer" sh -c "[ $? -eq 0 ] && [ -f '$(blob "$AP_HOME" "$P")' ]"
scribble "$OLL/blobs/sha256-$P"
check "  ... an in-place write into the Ollama blob leaves the store intact" \
    [ "$(sha256 "$(blob "$AP_HOME" "$P")")" = "$P" ]
cp "$TMP/plain.bin" "$OLL/blobs/sha256-$P"
# --link: the documented opt-in that trusts the cache
export AP_HOME="$TMP/s3e"
timeout 20 "$APCTL" --link scan --hf-cache="$H3" > "$TMP/scan" 2>&1
check "apctl --link scan exits 0" [ $? -eq 0 ]
check "  ... and hard-links the blob (same inode as the cache's)" \
    [ "$(ino "$(blob "$AP_HOME" "$W")")" = "$(ino "$H3/models--org--r/blobs/$W")" ]

# === 4. no read follows a symlink out of the cache ===========================
H4="$TMP/hfc4"
mkcache "$H4"
ln -s "../../../../secret.bin" "$H4/models--org--r/snapshots/$C1/w.bin"
[ -f "$H4/models--org--r/snapshots/$C1/w.bin" ] || diag "the escaping link does not resolve"
export AP_HOME="$TMP/s4"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$H4" timeout 20 "$APCTL" pull --json hf:org/r/w.bin > /dev/null 2> "$TMP/err"
rc=$?
diag "$(cat "$TMP/err")"
check "offline: a snapshot link leaving the cache is refused" [ $rc -ne 0 ]
check "  ... with a message naming the link and its target" sh -c \
    "grep -q 'w.bin' '$TMP/err' && grep -q 'secret.bin' '$TMP/err'"
check "  ... and the private file is not in the store" [ ! -e "$(blob "$AP_HOME" "$SECRET")" ]
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$H4" timeout 20 "$APCTL" pull --json hf:org/r > /dev/null 2> "$TMP/err"
check "offline snapshot pull: the escaping link is not imported" [ ! -e "$(blob "$AP_HOME" "$SECRET")" ]
# a blobs/ directory that is a link out of the cache (online reuse)
H5="$TMP/hfc5"
mkcache "$H5"
mkdir -p "$TMP/elsewhere"
cp "$TMP/w.bin" "$TMP/elsewhere/$W"
rmdir "$H5/models--org--r/blobs"
ln -s "$TMP/elsewhere" "$H5/models--org--r/blobs"
export AP_HOME="$TMP/s5"
HF_HUB_CACHE="$H5" timeout 20 "$APCTL" pull --json hf:org/r/w.bin > "$TMP/w5.json" 2> "$TMP/err"
rc=$?
check "online pull with the cache's blobs/ linked outside: exits 0 with the right bytes" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$(path_of "$TMP/w5.json")' '$TMP/w.bin'"
check "  ... downloaded instead of reading through the link" \
    [ "$(json_get "$TMP/w5.json" 'j["fetched_bytes"]' 2> /dev/null)" = 300000 ]

# an Ollama store whose blob and manifest are links out of it (these two
# were already refused before issue 8: regression checks)
OL4="$TMP/ollama4"
mkdir -p "$OL4/blobs" "$OL4/manifests/registry.ollama.ai/library/e"
cp "$TMP/plain.bin" "$TMP/outside-layer.bin"
ln -s "$TMP/outside-layer.bin" "$OL4/blobs/sha256-$P"
cat > "$TMP/outside-manifest" <<JSON
{"schemaVersion": 2, "layers": [
 {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:$P", "size": 200000}]}
JSON
cp "$TMP/outside-manifest" "$OL4/manifests/registry.ollama.ai/library/e/latest"
ln -s "$TMP/outside-manifest" "$OL4/manifests/registry.ollama.ai/library/e/linked"
export AP_HOME="$TMP/s4b"
timeout 20 "$APCTL" scan --ollama="$OL4" > "$TMP/scan" 2>&1
rc=$?
diag "$(cat "$TMP/scan")"
check "scan --ollama: a blob linked out of the store is not imported" sh -c \
    "[ $rc -eq 0 ] && [ ! -e '$(blob "$AP_HOME" "$P")' ]"
check "  ... and a manifest linked out of it is refused, naming the link and its target" \
    grep -q "linked.*symlink to '$TMP/outside-manifest'" "$TMP/scan"

# === 5. FIFOs never block ======================================================
export AP_HOME="$TMP/s6"
H6="$TMP/hfc6"
mkcache "$H6"
mkfifo "$H6/models--org--r/blobs/$W"
ln -s "../../blobs/$W" "$H6/models--org--r/snapshots/$C1/w.bin"
mkfifo "$H6/models--org--r/snapshots/$C1/config.json"
rm "$H6/models--org--r/refs/main"
mkfifo "$H6/models--org--r/refs/main"
timeout 20 "$APCTL" scan --hf-cache="$H6" > "$TMP/scan" 2>&1
check "scan with FIFOs as HF blob and snapshot file finishes (exit 0)" [ $? -eq 0 ]
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$H6" timeout 20 "$APCTL" pull hf:org/r/w.bin > /dev/null 2> "$TMP/err"
rc=$?
diag "$(cat "$TMP/err")"
check "offline pull with a FIFO at refs/main finishes with an error" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$H6" timeout 20 "$APCTL" pull "hf:org/r@$C1/w.bin" > /dev/null 2> "$TMP/err"
rc=$?
diag "$(cat "$TMP/err")"
check "offline pull of a FIFO HF blob finishes with an error" sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
HF_HUB_CACHE="$H6" timeout 20 "$APCTL" pull --json hf:org/r/w.bin > "$TMP/w6.json" 2> "$TMP/err"
rc=$?
check "online pull with a FIFO HF blob: downloads the right bytes" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$(path_of "$TMP/w6.json")' '$TMP/w.bin'"
OL6="$TMP/ollama6"
mkdir -p "$OL6/blobs" "$OL6/manifests/registry.ollama.ai/library/f"
mkfifo "$OL6/blobs/sha256-$P"
cat > "$OL6/manifests/registry.ollama.ai/library/f/latest" <<JSON
{"schemaVersion": 2, "layers": [
 {"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:$P", "size": 0}]}
JSON
mkfifo "$OL6/manifests/registry.ollama.ai/library/f/fifo"
timeout 20 "$APCTL" scan --ollama="$OL6" > "$TMP/scan" 2>&1
rc=$?
diag "$(cat "$TMP/scan")"
check "scan --ollama with a FIFO manifest and a FIFO blob finishes (exit 0)" [ $rc -eq 0 ]
check "  ... and imports neither" [ ! -e "$(blob "$AP_HOME" "$P")" ]
# in the store: a blob path, an index file, a catalog document
export AP_HOME="$TMP/s7"
timeout 20 "$APCTL" pull --json hf:org/r/config.json > /dev/null 2>&1
mkdir -p "$(dirname "$(blob "$AP_HOME" "$W")")"
mkfifo "$(blob "$AP_HOME" "$W")"
timeout 20 "$APCTL" verify > "$TMP/verify" 2>&1
rc=$?
diag "$(cat "$TMP/verify")"
check "verify with a FIFO at a blob path finishes" [ $rc -ne 124 ]
timeout 20 "$APCTL" pull --json hf:org/r/w.bin > "$TMP/w7.json" 2> "$TMP/err"
rc=$?
diag "$(cat "$TMP/err")"
check "a pull whose blob path holds a FIFO finishes" [ $rc -ne 124 ]
check "  ... and never reports ready on the FIFO" sh -c \
    "[ $rc -ne 0 ] || cmp -s '$(path_of "$TMP/w7.json")' '$TMP/w.bin'"
rm -f "$(blob "$AP_HOME" "$W")"
rm -f "$AP_HOME/index/git-sha1/$GIT"
mkdir -p "$AP_HOME/index/git-sha1"
mkfifo "$AP_HOME/index/git-sha1/$GIT"
timeout 20 "$APCTL" pull --json hf:org/r/config.json > "$TMP/c7.json" 2> "$TMP/err"
rc=$?
check "a pull with a FIFO in index/git-sha1 finishes with the right bytes" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$(path_of "$TMP/c7.json")' '$TMP/good.json'"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
mkfifo "$AP_HOME/catalog/zz-fifo.json"
timeout 20 "$APCTL" ls > "$TMP/ls" 2>&1
rc=$?
check "ls with a FIFO catalog document finishes" [ $rc -ne 124 ]

# === 6. publishing into an HF cache never shares our blob's inode ============
export AP_HOME="$TMP/s8"
H8="$TMP/hfc8"
timeout 20 "$APCTL" pull --json --hf-cache="$H8" hf:org/r/w.bin > "$TMP/w8.json" 2> "$TMP/err"
check "pull --hf-cache exits 0" [ $? -eq 0 ]
check "  ... the published HF blob is not the store blob's inode" \
    [ "$(ino "$(blob "$AP_HOME" "$W")")" != "$(ino "$H8/models--org--r/blobs/$W")" ]
scribble "$H8/models--org--r/blobs/$W"
check "  ... an in-place write into the published HF blob leaves the store intact" sh -c \
    "[ \"\$(sha256sum '$(blob "$AP_HOME" "$W")' | cut -d' ' -f1)\" = '$W' ] && cmp -s '$(path_of "$TMP/w8.json")' '$TMP/w.bin'"
check "  ... and verify is clean" verify_clean
done_testing
