#!/bin/sh
# Secrets and output: credentials inside HF_ENDPOINT (user:pass@) and the
# token never appear in any output stream (text, --json, --events, errors),
# the catalog documents or the events; text from a hostile server (error
# codes and messages, file names from a tree listing) reaches the terminal
# with no raw ESC or other control byte; every --json / --events output is
# jansson's, so a file name with a quote parses (a backslash or a newline
# in a file name is refused by path validation, checked here for the
# newline).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 15
C1=5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e
C2=6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f
C3=7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a
USER=aliceXuserQ7
PASS=S3cretPassw0rdZ9
TOKEN=hf_SECRETtoken4711

cat > "$TMP/cfg.json" <<JSON
{"tokens": {"$TOKEN": ["*"]},
 "repos": {
  "org/m": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "config.json": {"content": "{}"},
     "w.Q4_K_M.gguf": {"generate": {"size": 70000, "seed": 5}, "lfs": true},
     "bad.bin": {"content": "x", "faults": {"status": 500, "times": 100}}
  }}}},
  "org/api": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "x.txt": {"content": "x"}}}},
     "api_faults": {"status": 403, "status_headers": {
        "X-Error-Code": "\u001b]0;pwned\u0007Boom",
        "X-Error-Message": "\u001b[2Jcleared \u009b31m"}}},
  "org/q": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "plain.txt": {"content": "plain"},
     "a\"b.txt": {"content": "quoted"}}}}},
  "org/esc": {"refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
     "ok.txt": {"content": "ok"},
     "\u001b]0;pwned\u0007evil\u001b[2J.txt": {"content": "evil"}
  }}}},
  "org/nl": {"refs": {"main": "$C3"}, "commits": {"$C3": {"files": {
     "new\nline.txt": {"content": "nl"}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
CRED_HUB=$(echo "$HUB" | sed "s|://|://$USER:$PASS@|")
export HF_ENDPOINT="$CRED_HUB" HF_TOKEN="$TOKEN"
O="$TMP/out"
mkdir -p "$O"

# --- pulls with a credentialed endpoint and a token ---
"$APCTL" pull hf:org/m/config.json > "$O/1.out" 2> "$O/1.err"
check "pull through a credentialed endpoint works" [ $? -eq 0 ]
"$APCTL" pull --json --events hf:org/m/w.Q4_K_M.gguf > "$O/2.out" 2> "$O/2.err"
check "pull --json --events of an LFS file works" [ $? -eq 0 ]
"$APCTL" pull hf:org/m/missing.txt > "$O/3.out" 2> "$O/3.err"
check "a missing file fails" [ $? -ne 0 ]
"$APCTL" pull --events hf:org/m/bad.bin > "$O/4.out" 2> "$O/4.err"
check "a 500 from the server fails" [ $? -ne 0 ]
"$APCTL" show --json hf:org/m/config.json > "$O/5.out" 2> "$O/5.err"
"$APCTL" ls --json > "$O/6.out" 2> "$O/6.err"
"$APCTL" ls > "$O/7.out" 2> "$O/7.err"
"$APCTL" show hf:org/m/w.Q4_K_M.gguf > "$O/8.out" 2> "$O/8.err"
HF_TOKEN=hf_SECRETtoken_wrong "$APCTL" pull hf:org/m/config.json --force > "$O/9.out" 2> "$O/9.err"
for f in "$O"/*; do diag "$(basename "$f"): $(head -c 300 "$f" | tr -d '\033')"; done
check "the password appears in no output stream" sh -c "! grep -rl -- '$PASS' '$O'"
check "the user name appears in no output stream" sh -c "! grep -rl -- '$USER' '$O'"
check "the token appears in no output stream" sh -c "! grep -rl -- '$TOKEN' '$O'"
check "no catalog document or store file holds the password, user or token" sh -c \
    "! grep -rlaE -- '$PASS|$USER|$TOKEN' '$AP_HOME'"
check "the catalog recorded the endpoint without its credentials" \
    grep -rqF -- "$(echo "$HUB" | sed 's|://|://***@|')" "$AP_HOME/catalog"

# --- hostile server text reaches the terminal escaped ---
export HF_ENDPOINT="$HUB"
"$APCTL" pull hf:org/api > "$O/h1.out" 2> "$O/h1.err"
"$APCTL" pull hf:org/esc > "$O/h2.out" 2> "$O/h2.err"
"$APCTL" pull --events hf:org/esc > "$O/h3.out" 2> "$O/h3.err"
"$APCTL" ls > "$O/h4.out" 2> "$O/h4.err"
for f in "$O"/h*; do diag "$(basename "$f"): $(head -c 300 "$f" | cat -v)"; done
check "output is valid UTF-8 with no ESC, BEL, other C0 or C1 control" python3 -c '
import sys, unicodedata
for f in sys.argv[1:]:
    t = open(f, "rb").read().decode("utf-8")   # strict: invalid UTF-8 fails
    bad = [c for c in t if unicodedata.category(c) == "Cc" and c not in "\n\t"]
    assert not bad, (f, bad)' "$O"/h*
check "the hostile text is shown escaped (\\x1b)" grep -q 'x1b' "$O/h1.err"

# --- machine-readable output is jansson's ---
"$APCTL" pull --json --events hf:org/q > "$O/j1.out" 2> "$O/j1.err"
check "a snapshot with a file named a-quote-b.txt pulls" [ $? -eq 0 ]
check "pull --json of it parses and names the file exactly" python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert any(f["name"] == "a\"b.txt" for f in j["files"]), j' "$O/j1.out"
check "every --events line parses" python3 -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    if l.startswith("{"):
        json.loads(l); n += 1
assert n > 0' "$O/j1.err"
diag "$(cat "$O/j1.err" | head -5)"
"$APCTL" pull --json hf:org/nl > "$O/j2.out" 2> "$O/j2.err"
check "a file name with a newline is refused by path validation" sh -c \
    "[ \$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))) if open(sys.argv[1]).read().strip() else 0)' '$O/j2.out' 2>/dev/null || echo 0) -eq 0 ] && grep -q 'org/nl' '$O/j2.err'"
diag "$(cat -v "$O/j2.err")"
done_testing
