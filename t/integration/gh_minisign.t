#!/bin/sh
# GitHub release assets verified by a minisign signature (NAME.minisig) when
# the user trusts a public key (AP_GITHUB_MINISIGN_KEY / option minisign_key).
# Keys and signatures are made here by Debian's minisign tool: a good
# signature, a tampered file, a wrong key, a tampered trusted comment.
#
# The vendor fetches the .minisig and hands it with the trusted key to the
# host (ap_vendor_file.signature / public_key); the core verifies the bytes
# with libsodium before they are committed.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
. "$AP_SRC/t/integration/gh_lib.sh"
if ! command -v minisign > /dev/null; then
    echo "1..0 # SKIP minisign not installed"
    exit 0
fi
plan 16

M="$TMP/m"
mkdir -p "$M"
(cd "$M" && minisign -G -W -p k1.pub -s k1.key > /dev/null 2>&1 &&
            minisign -G -W -p k2.pub -s k2.key > /dev/null 2>&1) || { echo "Bail out! minisign -G"; exit 1; }
for f in good tampered wrongkey comment; do gen_bytes 150000 "ms-$f" > "$M/$f.bin"; done
(cd "$M" &&
 minisign -S -s k1.key -m good.bin -t 'file:good.bin' > /dev/null 2>&1 &&
 minisign -S -s k1.key -m tampered.bin -t 'file:tampered.bin' > /dev/null 2>&1 &&
 minisign -S -s k2.key -m wrongkey.bin -t 'file:wrongkey.bin' > /dev/null 2>&1 &&
 minisign -S -s k1.key -m comment.bin -t 'file:comment.bin' > /dev/null 2>&1) || { echo "Bail out! minisign -S"; exit 1; }
# the tampered file: one byte changed after signing
cp "$M/tampered.bin" "$M/tampered.orig"
printf 'X' | dd of="$M/tampered.bin" bs=1 seek=1000 conv=notrunc 2> /dev/null
# the tampered trusted comment: line 3 rewritten, signatures kept
sed -i '3s/.*/trusted comment: file:comment.bin, approved by nobody/' "$M/comment.bin.minisig"

check "fixture: minisign -V accepts the good signature" \
    sh -c "minisign -V -q -p '$M/k1.pub' -m '$M/good.bin' > /dev/null 2>&1"
check "fixture: minisign -V refuses the tampered file, the wrong key and the tampered comment" \
    sh -c "! minisign -V -q -p '$M/k1.pub' -m '$M/tampered.bin' > /dev/null 2>&1 && \
           ! minisign -V -q -p '$M/k1.pub' -m '$M/wrongkey.bin' > /dev/null 2>&1 && \
           ! minisign -V -q -p '$M/k1.pub' -m '$M/comment.bin' > /dev/null 2>&1"

asset() { printf '"%s": {"source": "%s", "digest": false}' "$1" "$M/$1"; }
cat > "$TMP/cfg.json" <<JSON
{"tokens": {"ghp_good": ["*"]},
 "repos": {"o/s": {"releases": [{"tag": "v1", "assets": {
   $(asset good.bin), $(asset good.bin.minisig),
   $(asset tampered.bin), $(asset tampered.bin.minisig),
   $(asset wrongkey.bin), $(asset wrongkey.bin.minisig),
   $(asset comment.bin), $(asset comment.bin.minisig),
   "junk.bin": {"content": "junk", "digest": false},
   "junk.bin.minisig": {"content": "not a signature\n", "digest": false}
 }}]}}}
JSON
start_gh "$TMP/cfg.json"
run() { # run NAME [VAR=VALUE...]: pull gh:o/s/NAME; sets rc, ST, $TMP/err
    _name=$1; shift
    H="$TMP/h-$_name-$_n"
    env "$@" AP_HOME="$H" "$APCTL" pull --events "gh:o/s/$_name" > "$TMP/ev" 2>&1
    rc=$?
    ST=$(error_status "$TMP/ev")
    grep -v '^{' "$TMP/ev" > "$TMP/err"
    diag "$(cat "$TMP/err")"
}
K1="AP_GITHUB_MINISIGN_KEY=$M/k1.pub"

# --- what works with the ABI as it is ---
run good.bin
check "no key given: the asset is unverified, and the warning points to minisign_key" sh -c \
    "[ $rc -eq 0 ] && grep -q 'unverified' '$TMP/err' && grep -q 'minisign_key' '$TMP/err'"
: > "$FH_LOG"
run good.bin GH_TOKEN=ghp_good "$K1"
ms=$(count_log 'r["server"]=="dl" and r["path"].split("?")[0].endswith("/good.bin.minisig") and r["status"]==200')
mx=$(count_log 'r["server"]=="dl" and "authorization" in r["headers"]')
ma=$(count_log 'r["server"]=="api" and r["headers"].get("authorization")=="Bearer ghp_good" and "/assets/" in r["path"]')
check "with a key, the .minisig is fetched through the asset API (token) and the signed URL (no token)" \
    sh -c "[ $ms -eq 1 ] && [ $mx -eq 0 ] && [ $ma -ge 2 ]"
run junk.bin "$K1"
check "a .minisig that is not a minisign document is refused (AP_EDIGEST), naming it" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -8 ] && grep -q \"'junk.bin.minisig' is not a minisign signature\" '$TMP/err'"
check "  ... before the asset is downloaded" [ "$(count_log 'r["server"]=="dl" and "/junk.bin?" in r["path"]')" -eq 0 ]
run good.bin AP_GITHUB_MINISIGN_KEY=/nonexistent/k.pub
check "a key file that cannot be read is refused, naming it" sh -c \
    "[ $rc -ne 0 ] && [ '$ST' = -2 ] && grep -q '/nonexistent/k.pub' '$TMP/err'"
check "the vendor never asks GitHub for the key" [ "$(count_log '"k1.pub" in r["path"]')" -eq 0 ]

# --- the verdict: the core verifies the signature before the commit ---
run good.bin "$K1"
check "good signature (key file): pull succeeds, verified (no 'unverified' warning)" \
    sh -c "[ $rc -eq 0 ] && ! grep -qi 'unverified\\|cannot verify' '$TMP/err' && cmp -s '$H/models/github/o/s/good.bin' '$M/good.bin'"
run good.bin "AP_GITHUB_MINISIGN_KEY=$(tail -1 "$M/k1.pub")"
check "good signature (key given as its base64 line): verified" \
    sh -c "[ $rc -eq 0 ] && ! grep -qi 'unverified\\|cannot verify' '$TMP/err'"
run good.bin "$K1" AP_GITHUB_REQUIRE_VERIFIED=1
check "good signature passes require_verified" [ $rc -eq 0 ]
run tampered.bin "$K1"
check "tampered file: fails (AP_EDIGEST), naming the asset and the file's signature" \
    sh -c "[ $rc -ne 0 ] && [ '$ST' = -8 ] && grep -q 'tampered.bin' '$TMP/err'"
check "  ... and nothing lands" sh -c "! find '$H' -name tampered.bin 2>/dev/null | grep -q ."
run wrongkey.bin "$K1"
check "signature by another key: fails, naming the key ids" \
    sh -c "[ $rc -ne 0 ] && grep -q 'wrongkey.bin' '$TMP/err' && grep -qi 'key' '$TMP/err'"
run comment.bin "$K1"
check "tampered trusted comment: fails (AP_EDIGEST), naming the trusted comment" \
    sh -c "[ $rc -ne 0 ] && [ '$ST' = -8 ] && grep -qi 'trusted comment' '$TMP/err'"
run tampered.bin "$K1" AP_GITHUB_REQUIRE_VERIFIED=1
check "tampered file under require_verified never lands (today refused as unverified)" sh -c \
    "[ $rc -ne 0 ] && ! find '$H' -name tampered.bin 2>/dev/null | grep -q ."
done_testing
