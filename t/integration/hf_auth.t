#!/bin/sh
# Hugging Face auth: gated repos (no token, granted token, denied token),
# private repos, a refused token, token sources (HF_TOKEN,
# HUGGING_FACE_HUB_TOKEN, $HF_HOME/token), and the token never reaching the CDN.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 42
C1=e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1
C2=f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2f2

one_line() { [ "$(wc -l < "$1")" -eq 1 ]; }

gen_bytes 300000 gatedw > "$TMP/gw.bin"
gen_bytes 250000 privw > "$TMP/pw.bin"
cat > "$TMP/cfg.json" <<JSON
{"tokens": {"hf_good": ["*"], "hf_denied": ["*"], "hf_limited": ["org/other"]},
 "repos": {
  "org/gated": {"gated": "manual", "gated_denied_tokens": ["hf_denied"],
     "refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
       "config.json": {"content": "{\"gated\": true}"},
       "model.safetensors": {"source": "$TMP/gw.bin", "lfs": true}
  }}}},
  "org/private": {"private": true,
     "refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
       "a.txt": {"content": "secret"},
       "w.bin": {"source": "$TMP/pw.bin", "lfs": true}
  }}}},
  "org/other": {"files": {"o.txt": {"content": "other"}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# --- gated, no token ---
"$APCTL" pull hf:org/gated/model.safetensors > /dev/null 2> "$TMP/err"
rc=$?
check "gated repo without token fails" [ $rc -ne 0 ]
check "gated: message names the reference, says gated and the licence" sh -c \
    "grep -q 'hf:org/gated/model.safetensors' '$TMP/err' && grep -qi 'gated' '$TMP/err' && grep -qi 'licen[cs]e' '$TMP/err'"
check "gated: message points to HF_TOKEN and the repo page" sh -c \
    "grep -q 'HF_TOKEN' '$TMP/err' && grep -q '$HUB/org/gated' '$TMP/err'"
check "gated: one line on stderr" one_line "$TMP/err"
diag "$(cat "$TMP/err")"

# the snapshot form too (the vendor HEADs the first file of a gated repo)
"$APCTL" pull hf:org/gated > /dev/null 2> "$TMP/err"
rc=$?
check "gated snapshot without token fails with the gated message" sh -c \
    "[ $rc -ne 0 ] && grep -q 'hf:org/gated' '$TMP/err' && grep -qi 'gated' '$TMP/err' && grep -qi 'licen[cs]e' '$TMP/err'"
diag "$(cat "$TMP/err")"
check "gated: nothing from the CDN" [ "$(count_log 'r["server"]=="cdn"')" -eq 0 ]

# --- gated, granted token ---
HF_TOKEN=hf_good "$APCTL" pull --json hf:org/gated/model.safetensors > "$TMP/g.json" 2> "$TMP/err"
rc=$?
check "gated repo with HF_TOKEN=<valid> succeeds" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "gated file bytes" cmp -s "$(json_get "$TMP/g.json" 'j["files"][0]["path"]' 2>/dev/null)" "$TMP/gw.bin"
HF_TOKEN=hf_good AP_HOME="$TMP/home-gs" "$APCTL" pull --json hf:org/gated > "$TMP/gs.json" 2> "$TMP/err"
rc=$?
check "gated snapshot with the token succeeds" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "gated snapshot: both files, right bytes" sh -c \
    "[ '$(json_get "$TMP/gs.json" 'len(j["files"])' 2>/dev/null)' = 2 ] && \
     cmp -s '$(json_get "$TMP/gs.json" "[x['path'] for x in j['files'] if x['name']=='model.safetensors'][0]" 2>/dev/null)' '$TMP/gw.bin'"

# --- gated, token denied ---
HF_TOKEN=hf_denied AP_HOME="$TMP/home-d" "$APCTL" pull hf:org/gated/model.safetensors > /dev/null 2> "$TMP/err"
rc=$?
check "gated repo with a denied token fails" [ $rc -ne 0 ]
check "denied: message says gated and not granted / licence" sh -c \
    "grep -q 'hf:org/gated/model.safetensors' '$TMP/err' && grep -qi 'gated' '$TMP/err' && grep -qi 'not been granted' '$TMP/err' && grep -qi 'licen[cs]e' '$TMP/err'"
check "denied: one line" one_line "$TMP/err"
diag "$(cat "$TMP/err")"

# --- private, no token ---
"$APCTL" pull hf:org/private/a.txt > /dev/null 2> "$TMP/err"
rc=$?
check "private repo without token fails" [ $rc -ne 0 ]
check "private: message says not found and HF_TOKEN" sh -c \
    "grep -q 'hf:org/private/a.txt' '$TMP/err' && grep -qi 'not found' '$TMP/err' && grep -q 'HF_TOKEN' '$TMP/err'"
check "private: one line" one_line "$TMP/err"
diag "$(cat "$TMP/err")"
"$APCTL" pull hf:org/private > /dev/null 2> "$TMP/err"
rc=$?
check "private snapshot without token: not found ... HF_TOKEN" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'not found' '$TMP/err' && grep -q 'HF_TOKEN' '$TMP/err'"

# a valid token without access to that repo
HF_TOKEN=hf_limited "$APCTL" pull hf:org/private/a.txt > /dev/null 2> "$TMP/err"
rc=$?
check "private with a token lacking access: not found ... no access" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'not found' '$TMP/err' && grep -qi 'no access' '$TMP/err'"
diag "$(cat "$TMP/err")"

# --- bad token ---
HF_TOKEN=hf_bogus "$APCTL" pull hf:org/other/o.txt > /dev/null 2> "$TMP/err"
rc=$?
check "bad token fails" [ $rc -ne 0 ]
check "bad token: 'token refused', names HF_TOKEN" sh -c \
    "grep -q 'hf:org/other/o.txt' '$TMP/err' && grep -qi 'token refused' '$TMP/err' && grep -q 'HF_TOKEN' '$TMP/err'"
check "bad token: one line" one_line "$TMP/err"
diag "$(cat "$TMP/err")"
HF_TOKEN=hf_bogus "$APCTL" pull hf:org/other > /dev/null 2> "$TMP/err"
rc=$?
check "bad token on a snapshot: 'token refused'" sh -c "[ $rc -ne 0 ] && grep -qi 'token refused' '$TMP/err'"
HUGGING_FACE_HUB_TOKEN=hf_bogus "$APCTL" pull hf:org/other/o.txt > /dev/null 2> "$TMP/err"
rc=$?
check "bad HUGGING_FACE_HUB_TOKEN: refused, names that variable" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'token refused' '$TMP/err' && grep -q 'HUGGING_FACE_HUB_TOKEN' '$TMP/err'"

# --- private with a valid token ---
HF_TOKEN=hf_good "$APCTL" pull --json hf:org/private/w.bin > "$TMP/p.json" 2> "$TMP/err"
rc=$?
check "private repo with HF_TOKEN succeeds" [ $rc -eq 0 ]
check "private LFS bytes" cmp -s "$(json_get "$TMP/p.json" 'j["files"][0]["path"]' 2>/dev/null)" "$TMP/pw.bin"
HUGGING_FACE_HUB_TOKEN=' hf_good ' AP_HOME="$TMP/home-hh" "$APCTL" pull hf:org/private/a.txt > /dev/null 2> "$TMP/err"
check "HUGGING_FACE_HUB_TOKEN (with spaces around) works" [ $? -eq 0 ]

# --- token from $HF_HOME/token ---
mkdir -p "$HF_HOME"
printf 'hf_good\n' > "$HF_HOME/token"
n_before=$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_good"')
AP_HOME="$TMP/home-tf" "$APCTL" pull --json hf:org/private > "$TMP/tf.json" 2> "$TMP/err"
rc=$?
check "token from \$HF_HOME/token: private snapshot succeeds" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
pw=$(json_get "$TMP/tf.json" "[x['path'] for x in j['files'] if x['name']=='w.bin'][0]" 2>/dev/null)
pa=$(json_get "$TMP/tf.json" "[x['path'] for x in j['files'] if x['name']=='a.txt'][0]" 2>/dev/null)
check "token file: both files with the right bytes" sh -c "cmp -s '$pw' '$TMP/pw.bin' && [ \"\$(cat '$pa')\" = secret ]"
check "token file: the hub received 'Bearer hf_good' (newline trimmed)" \
    [ "$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_good"')" -gt "$n_before" ]
# HF_TOKEN wins over the file
HF_TOKEN=hf_bogus AP_HOME="$TMP/home-tf2" "$APCTL" pull hf:org/private/a.txt > /dev/null 2> "$TMP/err"
check "HF_TOKEN takes precedence over \$HF_HOME/token" sh -c "[ $? -ne 0 ] && grep -qi 'token refused' '$TMP/err'"
printf 'hf_bogus\n' > "$HF_HOME/token"
AP_HOME="$TMP/home-tf3" "$APCTL" pull hf:org/other/o.txt > /dev/null 2> "$TMP/err"
rc=$?
check "bad token in \$HF_HOME/token: refused, names the file" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'token refused' '$TMP/err' && grep -q 'HF_HOME/token' '$TMP/err'"
diag "$(cat "$TMP/err")"
rm -f "$HF_HOME/token"

# --- a per-request token (vendor option env:HF_TOKEN, apctl -o) overrides the
#     environment's: what a daemon serving several users passes per request ---
n_good=$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_good"')
n_bogus=$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_bogus"')
HF_TOKEN=hf_bogus AP_HOME="$TMP/home-opt" "$APCTL" pull --json -o env:HF_TOKEN=hf_good \
    hf:org/private/a.txt > "$TMP/o.json" 2> "$TMP/err"
rc=$?
check "-o env:HF_TOKEN=<valid> succeeds although HF_TOKEN=<bogus> is in the environment" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "per-request token: the file's bytes" \
    [ "$(cat "$(json_get "$TMP/o.json" 'j["files"][0]["path"]' 2>/dev/null)")" = secret ]
check "per-request token: the hub received 'Bearer hf_good'" \
    [ "$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_good"')" -gt "$n_good" ]
check "per-request token: the environment's token was never sent" \
    [ "$(count_log 'r["server"]=="hub" and r["headers"].get("authorization")=="Bearer hf_bogus"')" -eq "$n_bogus" ]
HF_TOKEN=hf_good AP_HOME="$TMP/home-opt2" "$APCTL" pull -o env:HF_TOKEN=hf_bogus \
    hf:org/private/a.txt > /dev/null 2> "$TMP/err"
rc=$?
check "a bad per-request token fails even with a good one in the environment" sh -c \
    "[ $rc -ne 0 ] && grep -qi 'token refused' '$TMP/err'"
# through the job registry (apctl --jobs: ap_jobs_submit copies the options)
HF_TOKEN=hf_bogus AP_HOME="$TMP/home-opt3" "$APCTL" pull --quiet --jobs 2 -o env:HF_TOKEN=hf_good \
    hf:org/private/a.txt hf:org/private/w.bin > "$TMP/o3.out" 2> "$TMP/err"
rc=$?
check "per-request token through ap_jobs (two jobs) succeeds" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
"$APCTL" pull -o novalue hf:org/private/a.txt > /dev/null 2> "$TMP/err"
check "apctl -o without KEY=VALUE is a usage error" sh -c "[ $? -eq 2 ] && grep -q 'KEY=VALUE' '$TMP/err'"

# --- the CDN never saw a token ---
check "the CDN served LFS bodies in this test" [ "$(count_log 'r["server"]=="cdn" and r["status"] in (200,206)')" -gt 0 ]
check "no CDN request carried an authorization header" [ "$(count_log 'r["server"]=="cdn" and "authorization" in r["headers"]')" -eq 0 ]
check "same, by grep on the raw log" sh -c "! grep '\"server\": *\"cdn\"' '$FH_LOG' | grep -qi 'authorization'"
check "no token ever sent to a non-hub server" [ "$(count_log 'r["server"]!="hub" and any("hf_" in v for v in r["headers"].values())')" -eq 0 ]
done_testing
