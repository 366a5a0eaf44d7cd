#!/bin/sh
# HF_HUB_OFFLINE=1: files come from an HF cache (published by apctl
# --hf-cache, or built by hand) or from our own catalog, and no connection
# is made at all; a file absent from both fails saying "offline".
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 39
C1=abcdef0123456789abcdef0123456789abcdef01
C2=0fedcba9876543210fedcba9876543210fedcba9
H1=9999999999999999999999999999999999999999

log_lines() { wc -l < "$FH_LOG" | tr -d ' '; }
path_of() { json_get "$1" "[x['path'] for x in j['files'] if x['name']=='$2'][0]" 2>/dev/null; }
names() { json_get "$1" '" ".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null; }
git_sha1() {
    python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$1"
}

S="$TMP/src"
mkdir -p "$S"
python3 "$AP_SRC/t/fixtures/mkgguf.py" "$S/model.Q4_K_M.gguf" --size 250000 --file-type 15
printf '{"model_type": "llama"}' > "$S/config.json"
gen_bytes 120000 extra > "$S/extra.bin"
gen_bytes 90000 cat > "$S/c.bin"
cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/off": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"source": "$S/config.json"},
     "model.Q4_K_M.gguf": {"source": "$S/model.Q4_K_M.gguf", "lfs": true},
     "extra.bin": {"source": "$S/extra.bin", "lfs": true}
  }}}},
  "org/cat": {"refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
     "c.bin": {"source": "$S/c.bin", "lfs": true}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
HFC="$TMP/hfc"
GSHA=$(sha256 "$S/model.Q4_K_M.gguf")
CSHA1=$(git_sha1 "$S/config.json")

# --- online, publishing into an HF cache ---
AP_HOME="$TMP/home1" "$APCTL" pull --json --hf-cache="$HFC" hf:org/off/model.Q4_K_M.gguf > "$TMP/p1.json" 2> "$TMP/err"
rc=$?
check "online pull with --hf-cache exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
AP_HOME="$TMP/home1" "$APCTL" pull --json --hf-cache="$HFC" hf:org/off/config.json > "$TMP/p2.json" 2> "$TMP/err"
rc=$?
check "online pull of a regular file with --hf-cache exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
R="$HFC/models--org--off"
check "published: blobs/<sha256> holds the GGUF bytes" cmp -s "$R/blobs/$GSHA" "$S/model.Q4_K_M.gguf"
check "published: blobs/<git sha1> holds config.json" cmp -s "$R/blobs/$CSHA1" "$S/config.json"
check "published: snapshot entry is a relative symlink to the blob" sh -c \
    "[ -L '$R/snapshots/$C1/model.Q4_K_M.gguf' ] && case \$(readlink '$R/snapshots/$C1/model.Q4_K_M.gguf') in /*) false;; *) true;; esac && \
     [ \"\$(readlink -f '$R/snapshots/$C1/model.Q4_K_M.gguf')\" = \"\$(readlink -f '$R/blobs/$GSHA')\" ]"
check "published: refs/main holds the commit, no newline" sh -c \
    "[ \"\$(cat '$R/refs/main')\" = '$C1' ] && [ \$(stat -c %s '$R/refs/main') -eq 40 ]"

# --- offline, from the HF cache, with a fresh store ---
n0=$(log_lines)
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home2" \
    "$APCTL" pull --json hf:org/off/model.Q4_K_M.gguf > "$TMP/o1.json" 2> "$TMP/err"
rc=$?
check "offline pull from the HF cache exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "offline: bytes" cmp -s "$(path_of "$TMP/o1.json" model.Q4_K_M.gguf)" "$S/model.Q4_K_M.gguf"
check "offline: sha256 and revision (the commit)" sh -c \
    "[ '$(json_get "$TMP/o1.json" 'j["files"][0]["sha256"]' 2>/dev/null)' = '$GSHA' ] && [ '$(json_get "$TMP/o1.json" 'j["revision"]' 2>/dev/null)' = '$C1' ]"
check "offline: status ready, format gguf" sh -c \
    "[ '$(json_get "$TMP/o1.json" 'j["status"]+" "+j["files"][0]["format"]' 2>/dev/null)' = 'ready gguf' ]"
check "offline: stored inside the new AP_HOME" sh -c "case '$(path_of "$TMP/o1.json" model.Q4_K_M.gguf)' in '$TMP/home2'/*) true;; *) false;; esac"
check "offline: no connection to the fake servers" [ "$(log_lines)" -eq "$n0" ]

HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home2" \
    "$APCTL" pull --json hf:org/off/config.json > "$TMP/o2.json" 2> "$TMP/err"
rc=$?
check "offline regular file: exits 0, bytes, git_sha1" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$(path_of "$TMP/o2.json" config.json)' '$S/config.json' && \
     [ '$(json_get "$TMP/o2.json" 'j["files"][0]["git_sha1"]' 2>/dev/null)' = '$CSHA1' ]"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=true HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home3" \
    "$APCTL" pull --json "hf:org/off@$C1/model.Q4_K_M.gguf" > "$TMP/o3.json" 2> "$TMP/err"
rc=$?
check "offline (HF_HUB_OFFLINE=true) at the full commit: exits 0, bytes" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$(path_of "$TMP/o3.json" model.Q4_K_M.gguf)' '$S/model.Q4_K_M.gguf'"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home3" \
    "$APCTL" pull --json "hf:org/off@abcdef01/config.json" > "$TMP/o3b.json" 2> "$TMP/err"
rc=$?
check "offline at a short commit: exits 0, bytes" sh -c \
    "[ $rc -eq 0 ] && cmp -s '$(path_of "$TMP/o3b.json" config.json)' '$S/config.json'"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home4" \
    "$APCTL" pull --json hf:org/off:Q4_K_M > "$TMP/o4.json" 2> "$TMP/err"
rc=$?
check "offline quant tag :Q4_K_M from the cache" sh -c \
    "[ $rc -eq 0 ] && [ '$(names "$TMP/o4.json")' = model.Q4_K_M.gguf ]"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home4" \
    "$APCTL" pull --json hf:org/off > "$TMP/o5.json" 2> "$TMP/err"
rc=$?
check "offline snapshot: the two cached files" sh -c \
    "[ $rc -eq 0 ] && [ '$(names "$TMP/o5.json")' = 'config.json model.Q4_K_M.gguf' ]"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
check "offline (all of the above): still no connection" [ "$(log_lines)" -eq "$n0" ]

# --- offline, file absent ---
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home2" \
    "$APCTL" pull hf:org/off/extra.bin > /dev/null 2> "$TMP/err"
rc=$?
check "offline, file not in the cache: fails" [ $rc -ne 0 ]
check "offline, absent: one line naming the ref and saying offline" sh -c \
    "[ \$(wc -l < '$TMP/err') -eq 1 ] && grep -q 'hf:org/off/extra.bin' '$TMP/err' && grep -qi 'offline' '$TMP/err'"
diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home2" \
    "$APCTL" pull hf:org/nothere/x.gguf > /dev/null 2> "$TMP/err"
rc=$?
check "offline, repo not in the cache: fails saying offline" sh -c "[ $rc -ne 0 ] && grep -qi 'offline' '$TMP/err'"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home2" \
    "$APCTL" pull hf:org/off@nobranch/config.json > /dev/null 2> "$TMP/err"
rc=$?
check "offline, unknown revision: fails" [ $rc -ne 0 ]
check "offline failures: no connection" [ "$(log_lines)" -eq "$n0" ]

# --- offline, hand-built cache under $HF_HOME/hub (HF_HUB_CACHE unset) ---
HH="$TMP/hf-hand"
HR="$HH/hub/models--org--hand"
mkdir -p "$HR/blobs" "$HR/snapshots/$H1/sub" "$HR/refs" "$HR/.no_exist/$H1"
python3 "$AP_SRC/t/fixtures/mkgguf.py" "$TMP/hand.gguf" --size 70000 --file-type 15 --seed hand
HSHA=$(sha256 "$TMP/hand.gguf")
cp "$TMP/hand.gguf" "$HR/blobs/$HSHA"
ln -s "../../../blobs/$HSHA" "$HR/snapshots/$H1/sub/w.Q4_K_M.gguf"
printf '%s' "$H1" > "$HR/refs/main"
: > "$HR/.no_exist/$H1/missing.json"
HF_HUB_OFFLINE=1 HF_HOME="$HH" AP_HOME="$TMP/home5" \
    "$APCTL" pull --json hf:org/hand/sub/w.Q4_K_M.gguf > "$TMP/h.json" 2> "$TMP/err"
rc=$?
check "offline from a hand-built cache (\$HF_HOME/hub) exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "hand-built: bytes, sha256, revision" sh -c \
    "cmp -s '$(path_of "$TMP/h.json" sub/w.Q4_K_M.gguf)' '$TMP/hand.gguf' && \
     [ '$(json_get "$TMP/h.json" 'j["files"][0]["sha256"]+" "+j["revision"]' 2>/dev/null)' = '$HSHA $H1' ]"
check "hand-built: precision q4_k_m" [ "$(json_get "$TMP/h.json" 'j["files"][0]["precision"]' 2>/dev/null)" = q4_k_m ]
HF_HUB_OFFLINE=1 HF_HOME="$HH" AP_HOME="$TMP/home5" \
    "$APCTL" pull hf:org/hand/missing.json > /dev/null 2> "$TMP/err"
rc=$?
check "hand-built: .no_exist marker gives 'not found' (not an offline miss)" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'not found' '$TMP/err'"
diag "$(cat "$TMP/err")"
check "the cache blob was not modified or removed" cmp -s "$HR/blobs/$HSHA" "$TMP/hand.gguf"
check "hand-built: no connection" [ "$(log_lines)" -eq "$n0" ]

# --- offline re-pull of what is already in our catalog (same AP_HOME) ---
AP_HOME="$TMP/home1" "$APCTL" pull --json hf:org/cat/c.bin > "$TMP/c.json" 2> "$TMP/err"
check "online pull of org/cat/c.bin (no HF cache) exits 0" [ $? -eq 0 ]
AP_HOME="$TMP/home1" "$APCTL" pull --json hf:org/cat > "$TMP/cs.json" 2> "$TMP/err"
check "online snapshot pull of org/cat exits 0" [ $? -eq 0 ]
n1=$(log_lines)
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$HFC" AP_HOME="$TMP/home1" \
    "$APCTL" pull --json hf:org/cat/c.bin > "$TMP/c2.json" 2> "$TMP/err"
rc=$?
check "offline re-pull of a catalogued file exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "offline re-pull: same bytes" cmp -s "$(path_of "$TMP/c2.json" c.bin)" "$S/c.bin"
check "offline re-pull: fetched_bytes 0 (nothing transferred by this provision)" \
    [ "$(json_get "$TMP/c2.json" 'j["fetched_bytes"]' 2>/dev/null)" = 0 ]
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/empty-cache" AP_HOME="$TMP/home1" \
    "$APCTL" pull --json hf:org/cat > "$TMP/cs2.json" 2> "$TMP/err"
rc=$?
check "offline re-pull of a catalogued snapshot (HF cache empty) exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/empty-cache" AP_HOME="$TMP/home1" \
    "$APCTL" pull --json hf:org/off/model.Q4_K_M.gguf > "$TMP/c3.json" 2> "$TMP/err"
rc=$?
check "offline re-pull of the first pulled file, HF cache empty: exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/empty-cache" AP_HOME="$TMP/home1" \
    "$APCTL" pull hf:org/cat/c.bin > "$TMP/c4.out" 2> "$TMP/err"
check "offline re-pull, text output: says already present" grep -q 'already present' "$TMP/c4.out"
AP_HOME="$TMP/home6" "$APCTL" pull hf:org/off/config.json > /dev/null 2>&1
n1=$(log_lines)
HF_HUB_OFFLINE=1 HF_HUB_CACHE="$TMP/empty-cache" AP_HOME="$TMP/home6" \
    "$APCTL" pull --json hf:org/off/config.json > "$TMP/c5.json" 2> "$TMP/err"
rc=$?
check "offline re-pull of a catalogued regular file (git sha1), HF cache empty: exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "offline re-pulls: no connection" [ "$(log_lines)" -eq "$n1" ]
done_testing
