# Helpers for the GitHub releases tests (t/integration/gh_*.t), sourced after
# t/lib.sh.  start_gh CONFIG starts t/fixtures/fakegh.py and sets API (the
# fake REST API, exported as GITHUB_API_URL), DL (the signed-URL host) and
# FH_LOG (its request log, so count_log works).
unset GH_TOKEN GITHUB_TOKEN GITHUB_API_URL AP_GITHUB_REQUIRE_VERIFIED \
      AP_GITHUB_MINISIGN_KEY AP_GITHUB_RATE_LIMIT_WAIT

start_gh() {
    FH_LOG="$TMP/fakegh.log"
    : > "$FH_LOG"
    rm -f "$TMP/ready"
    python3 "$AP_SRC/t/fixtures/fakegh.py" --config "$1" --log "$FH_LOG" \
        --ready-file "$TMP/ready" >/dev/null &
    FH_PID=$!
    _i=0
    while [ ! -s "$TMP/ready" ]; do
        _i=$((_i + 1))
        if [ $_i -gt 500 ]; then echo "Bail out! fakegh did not start"; exit 1; fi
        sleep 0.02
    done
    API=$(sed 's/.*"api":"\([^"]*\)".*/\1/' "$TMP/ready")
    DL=$(sed 's/.*"dl":"\([^"]*\)".*/\1/' "$TMP/ready")
    GITHUB_API_URL=$API
    export API DL GITHUB_API_URL
}

# new_config FILE: replace the fake's config atomically (it reloads it).
new_config() {
    cp "$1" "$TMP/cfg.json.new" && mv "$TMP/cfg.json.new" "$TMP/cfg.json"
}

# path_of JSON NAME: the local path of file NAME in apctl pull --json output.
path_of() {
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print([f["path"] for f in j["files"] if f["name"] == sys.argv[2]][0])' "$1" "$2" 2>/dev/null
}

# names_of JSON: the sorted file names of an entry, space-separated.
names_of() {
    python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(" ".join(sorted(f["name"] for f in j["files"])))' "$1" 2>/dev/null
}

# error_status EVENTS: the status of the error event in apctl --events output.
error_status() {
    python3 -c '
import json, sys
s = ""
for l in open(sys.argv[1]):
    l = l.strip()
    if l.startswith("{"):
        e = json.loads(l)
        if e.get("event") == "error":
            s = str(e.get("status"))
print(s)' "$1"
}

# todo DESCRIPTION REASON COMMAND...: a TAP TODO test -- "ok" or "not ok",
# marked "# TODO REASON", which does not fail the file either way.
todo() {
    _d=$1; _r=$2; shift 2
    _n=$((_n + 1))
    if "$@"; then echo "ok $_n - $_d # TODO $_r"; else echo "not ok $_n - $_d # TODO $_r"; fi
}
