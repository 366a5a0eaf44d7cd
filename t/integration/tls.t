#!/bin/sh
# TLS: a loopback HTTPS hub with a self-signed certificate made here by
# openssl is refused by default (a clear TLS error, for downloads and for
# the HF vendor's metadata requests alike) and accepted with --cacert; over
# it, the HF token goes to the hub only -- an https -> http redirect to
# another port on the same host never carries it.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 12
C1=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1 ||
    { echo "Bail out! openssl cannot make a certificate"; exit 1; }
gen_bytes 400000 51 > "$TMP/w.bin"
W=$(sha256 "$TMP/w.bin")
cat > "$TMP/cfg.json" <<JSON
{"tokens": {"hf_tls": ["*"]},
 "repos": {
  "org/pub": {"files": {"w.bin": {"source": "$TMP/w.bin"}}},
  "org/priv": {"private": true, "refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "a.txt": {"content": "private text\n"},
     "r.txt": {"content": "moved text\n", "faults": {"redirect_to": "{files}/files/moved.txt"}}
  }}}}},
 "files": {"moved.txt": {"content": "moved text\n"}}}
JSON
# start_hub with --tls
FH_LOG="$TMP/fakehub.log"
: > "$FH_LOG"
python3 "$AP_SRC/t/fixtures/fakehub.py" --config "$TMP/cfg.json" --log "$FH_LOG" \
    --ready-file "$TMP/ready" --tls "$TMP/cert.pem" "$TMP/key.pem" > /dev/null &
FH_PID=$!
i=0
while [ ! -s "$TMP/ready" ]; do
    i=$((i + 1))
    if [ $i -gt 500 ]; then echo "Bail out! fake hub did not start"; exit 1; fi
    sleep 0.02
done
HUB=$(sed 's/.*"hub":"\([^"]*\)".*/\1/' "$TMP/ready")
FILES=$(sed 's/.*"files":"\([^"]*\)".*/\1/' "$TMP/ready")
case "$HUB" in https://127.0.0.1:*) ;; *) echo "Bail out! hub is not https: $HUB"; exit 1;; esac
pull() { timeout 120 "$APCTL" pull "$@"; }

# --- plain https:// references (URL vendor, the engine) ---
U="$HUB/org/pub/resolve/main/w.bin#sha256=$W"
pull "$U" > /dev/null 2> "$TMP/err"
rc=$?
check "a self-signed certificate is refused by default (exit 4)" [ $rc -eq 4 ]
check "  ... with a clear TLS error naming the URL" sh -c \
  "grep -q 'TLS' '$TMP/err' && grep -qi 'certificate' '$TMP/err' && grep -q '/org/pub/resolve/main/w.bin' '$TMP/err'"
diag "$(cat "$TMP/err")"
pull --json --cacert "$TMP/cert.pem" "$U" > "$TMP/o.json" 2> "$TMP/err"
check "accepted with --cacert" [ $? -eq 0 ]
p=$(json_get "$TMP/o.json" 'j["files"][0]["path"]')
check "  ... and the bytes are right" sh -c "[ \"\$(sha256sum '$p' | cut -d' ' -f1)\" = $W ]"

# --- the HF vendor over https (metadata requests and downloads) ---
export HF_ENDPOINT="$HUB" HF_TOKEN=hf_tls
pull hf:org/priv/a.txt > /dev/null 2> "$TMP/err"
rc=$?
check "HF metadata over an untrusted certificate fails (exit 4)" [ $rc -eq 4 ]
check "  ... with a TLS error" sh -c "grep -q 'TLS' '$TMP/err' && grep -qi 'certificate' '$TMP/err'"
diag "$(cat "$TMP/err")"
pull --json --cacert "$TMP/cert.pem" hf:org/priv/a.txt > "$TMP/o.json" 2> "$TMP/err"
check "HF pull of a private file over https with --cacert" [ $? -eq 0 ]
p=$(json_get "$TMP/o.json" 'j["files"][0]["path"]')
check "  ... right content" sh -c "[ \"\$(cat '$p')\" = 'private text' ]"
check "  ... the token reached the hub" [ "$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_tls"')" -ge 1 ]

# --- https -> http on another port of the same host: no token ---
pull --json --cacert "$TMP/cert.pem" hf:org/priv/r.txt > "$TMP/o.json" 2> "$TMP/err"
check "a file the hub redirects to plain http on another port is fetched" [ $? -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "  ... and the redirect target was asked" \
  [ "$(count_log 'r["server"]=="files" and r["path"]=="/files/moved.txt"')" -ge 1 ]
check "  ... without the token (https -> http downgrade, other port)" \
  [ "$(count_log 'r["server"]=="files" and "authorization" in r["headers"]')" -eq 0 ]
done_testing
