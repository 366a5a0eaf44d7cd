#!/bin/sh
# Mirrors (--mirror, AP_MIRRORS): tried in order before the origin for every
# file whose sha256 is known; a miss (404), wrong bytes or a mirror that is
# down falls through to the next, then to the origin; the digest decides.
# Content-addressed mirrors serve BASE/sha256/<hex>; PREFIX=BASE mirrors
# stand for a URL prefix (an HF endpoint).  A failing mirror is reported once
# for a multi-file snapshot, not once per file.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 18
C1=1111111111111111111111111111111111111111
SZ=300000
gen_bytes $SZ 7 > "$TMP/w.bin"
H=$(sha256 "$TMP/w.bin")
for s in 11 12 13; do gen_bytes 100000 $s > "$TMP/s$s.bin"; done
DOWN=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$TMP/cfg.json" <<JSON
{"repos": {"org/snap": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
   "a.txt": {"content": "small, no sha256: from the origin"},
   "s11.bin": {"generate": {"size": 100000, "seed": 11}, "lfs": true},
   "s12.bin": {"generate": {"size": 100000, "seed": 12}, "lfs": true},
   "s13.bin": {"generate": {"size": 100000, "seed": 13}, "lfs": true}}}}}},
 "files": {
  "w.bin":  {"generate": {"size": $SZ, "seed": 7}},
  "wrong/sha256/$H": {"generate": {"size": $SZ, "seed": 8}},
  "good/sha256/$H":  {"generate": {"size": $SZ, "seed": 7}},
  "hfm/org/snap/resolve/$C1/s12.bin": {"generate": {"size": 100000, "seed": 12}}}}
JSON
start_hub "$TMP/cfg.json"
M_MISS="$FILES/files/miss"; M_WRONG="$FILES/files/wrong"; M_GOOD="$FILES/files/good"
M_DOWN="http://127.0.0.1:$DOWN/cas"
R="$FILES/files/w.bin#sha256=$H"
path_count() { count_log "r['path'].startswith('$1')"; }
pyget() { python3 -c 'import json,sys; print(sum(r.get("bytes",0) for r in map(json.loads, open(sys.argv[1])) if r["path"].startswith(sys.argv[2])))' "$FH_LOG" "$1"; }

# --- 1: down, miss, wrong bytes, then a good mirror: the origin is untouched
"$APCTL" pull --mirror "$M_DOWN" --mirror "$M_MISS" --mirror="$M_WRONG" \
    --mirror "$M_GOOD" "$R" > /dev/null 2> "$TMP/err1"
check "down, miss, wrong bytes, good: the pull succeeds" [ $? -eq 0 ]
check "... the miss and the wrong mirror were asked" sh -c \
    "[ $(path_count /files/miss/sha256/$H) -ge 1 ] && [ $(path_count /files/wrong/sha256/$H) -ge 1 ]"
check "... the good mirror served the file, the origin nothing" sh -c \
    "[ $(pyget /files/good/) -eq $SZ ] && [ $(path_count /files/w.bin) -eq 0 ]"
p=$("$APCTL" path "$R")
check "... the stored bytes are the digest's, not the wrong mirror's" cmp -s "$p" "$TMP/w.bin"
check "... each failing mirror is reported once, with its cause" sh -c "
    [ \$(grep -c 'mirror http://127.0.0.1:$DOWN/cas failed' '$TMP/err1') -eq 1 ] &&
    [ \$(grep -c 'mirror $M_MISS failed.*404' '$TMP/err1') -eq 1 ] &&
    [ \$(grep -c 'mirror $M_WRONG failed.*sha256 mismatch' '$TMP/err1') -eq 1 ]"
diag "$(cat "$TMP/err1")"

# --- 2: AP_MIRRORS, every mirror fails: the origin serves it
rm -rf "$AP_HOME"; : > "$FH_LOG"
AP_MIRRORS="$M_MISS  $M_WRONG" "$APCTL" pull "$R" > /dev/null 2> "$TMP/err2"
check "AP_MIRRORS, every mirror fails: the origin serves, the pull succeeds" [ $? -eq 0 ]
check "... the origin served the whole file once" [ "$(pyget /files/w.bin)" -eq $SZ ]
p=$("$APCTL" path "$R")
check "... verified bytes" cmp -s "$p" "$TMP/w.bin"

# --- 3: --mirror wins over AP_MIRRORS; a bad mirror spec is refused
rm -rf "$AP_HOME"; : > "$FH_LOG"
AP_MIRRORS="ftp://not-used" "$APCTL" pull --mirror "$M_GOOD" "$R" > /dev/null 2> "$TMP/err3"
rc=$?
check "--mirror replaces AP_MIRRORS (the good mirror served the file)" sh -c \
    "[ $rc -eq 0 ] && [ $(pyget /files/good/) -eq $SZ ]"
rm -rf "$AP_HOME"
AP_MIRRORS="ftp://nope" "$APCTL" pull "$R" > /dev/null 2> "$TMP/err3b"
rc=$?
check "a bad mirror (AP_MIRRORS) fails the pull, naming the mirror (exit 2, usage)" sh -c \
    "[ $rc -eq 2 ] && grep -q \"mirror 'ftp://nope'\" '$TMP/err3b'"
diag "$(cat "$TMP/err3b")"

# --- 4: an HF snapshot of 3 LFS files + a small file, a mirror that is down,
# then a PREFIX=BASE mirror of the hub that has only s12.bin
rm -rf "$AP_HOME"; : > "$FH_LOG"
HF_ENDPOINT="$HUB" "$APCTL" pull --mirror "$M_DOWN" --mirror "$HUB=$FILES/files/hfm" \
    hf:org/snap > /dev/null 2> "$TMP/err4"
check "HF snapshot with a down mirror and a partial hub mirror: succeeds" [ $? -eq 0 ]
check "... the down mirror is reported once, for all 3 files" sh -c "
    [ \$(grep -c 'mirror http://127.0.0.1:$DOWN/cas failed' '$TMP/err4') -eq 1 ] &&
    grep -q 'failed for 3 of 3 files' '$TMP/err4'"
check "... the hub mirror is reported once, for the 2 files it lacks" sh -c "
    [ \$(grep -c 'mirror $FILES/files/hfm failed for 2 of 3 files' '$TMP/err4') -eq 1 ]"
diag "$(cat "$TMP/err4")"
check "... the hub mirror served s12.bin, the CDN did not" sh -c "
    [ $(pyget /files/hfm/org/snap/resolve/$C1/s12.bin) -eq 100000 ] &&
    [ $(count_log "r['server'] == 'cdn' and r['path'].endswith('$(sha256 "$TMP/s12.bin")')") -eq 0 ]"
check "... the CDN served the other two once each" \
    [ "$(count_log "r['server'] == 'cdn' and r['method'] == 'GET'")" -eq 2 ]
check "... the small file without sha256 came from the origin only" \
    [ "$(count_log "r['path'].endswith('/a.txt') and r['server'] == 'hub'")" -ge 1 ]
ok=1
for s in 11 12 13; do
    p=$(HF_ENDPOINT="$HUB" "$APCTL" path hf:org/snap s$s.bin) && cmp -s "$p" "$TMP/s$s.bin" || ok=0
done
check "... all stored bytes verify" [ $ok -eq 1 ]
check "... and verify is clean" "$APCTL" verify
done_testing
