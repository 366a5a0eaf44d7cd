#!/bin/sh
# Several apctl processes asking for the same blob at once (the same blob
# requested by two jobs or two processes is downloaded once, under
# cross-process flock locks per blob: docs/store.md, Locking): all succeed, all get
# the right bytes, the body crosses the wire once.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 18
SIZE=1500000
gen_bytes $SIZE 31 > "$TMP/c.bin"
gen_bytes $SIZE 32 > "$TMP/d.bin"
C=$(sha256 "$TMP/c.bin")
D=$(sha256 "$TMP/d.bin")
# ~1 MB/s per connection: one transfer takes ~1.5 s, so the three
# processes overlap for sure.
cat > "$TMP/cfg.json" <<JSON
{"files": {
  "c.bin": {"generate": {"size": $SIZE, "seed": 31}, "faults": {"throttle_bps": 1000000}},
  "d.bin": {"generate": {"size": $SIZE, "seed": 32}, "faults": {"throttle_bps": 1000000}}
 },
 "repos": {"org/conc": {"files": {
  "d.bin": {"generate": {"size": $SIZE, "seed": 32}, "lfs": true, "faults": {"throttle_bps": 1000000}}
 }}}}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# body_gets PATTERN: "COUNT BYTES" of the GETs to the files server or the CDN
# whose path contains PATTERN.
body_gets() {
    python3 -c '
import json, sys
n = b = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("method") == "GET" and r.get("server") in ("files", "cdn") \
            and any(p in r.get("path", "") for p in sys.argv[2:]):
        n += 1
        b += r.get("bytes", 0)
print(n, b)' "$FH_LOG" "$@"
}
same_bytes() { [ -f "$1" ] && [ "$(sha256 "$1")" = "$2" ]; }
# run3 REF1 REF2 REF3: start three pulls at once (outputs $TMP/o1..3.json,
# $TMP/e1..3), wait for all with a 40 s watchdog; sets rc1 rc2 rc3.
run3() {
    "$APCTL" pull --json "$1" > "$TMP/o1.json" 2> "$TMP/e1" & p1=$!
    "$APCTL" pull --json "$2" > "$TMP/o2.json" 2> "$TMP/e2" & p2=$!
    "$APCTL" pull --json "$3" > "$TMP/o3.json" 2> "$TMP/e3" & p3=$!
    ( sleep 40; kill -9 $p1 $p2 $p3 ) > /dev/null 2>&1 &
    wd=$!
    wait $p1; rc1=$?
    wait $p2; rc2=$?
    wait $p3; rc3=$?
    kill $wd 2> /dev/null; wait $wd 2> /dev/null
    for k in 1 2 3; do [ -s "$TMP/e$k" ] && diag "pull $k stderr:" "$(cat "$TMP/e$k")"; done
    true
}
paths_ok() { # WANT_HEX: the path in each of o1..3.json has the right bytes
    for k in 1 2 3; do
        p=$(json_get "$TMP/o$k.json" 'j["files"][0]["path"]' 2> /dev/null) || return 1
        same_bytes "$p" "$1" || { diag "pull $k: wrong bytes at '$p'"; return 1; }
    done
}
within() { # BYTES: SIZE <= BYTES <= 1.1 SIZE
    [ "$1" -ge $SIZE ] && [ "$1" -le $((SIZE + SIZE / 10)) ]
}

# --- three processes, the same URL reference --------------------------------
U="$FILES/files/c.bin#sha256=$C"
t0=$(date +%s)
run3 "$U" "$U" "$U"
check "3 concurrent pulls of the same ref: first exits 0" [ "$rc1" -eq 0 ]
check "  ... second exits 0" [ "$rc2" -eq 0 ]
check "  ... third exits 0" [ "$rc3" -eq 0 ]
check "  ... each reported path has the right bytes" paths_ok "$C"
set -- $(body_gets /files/c.bin)
diag "files server: $1 GET(s) of c.bin, $2 body bytes (size $SIZE), $(( $(date +%s) - t0 )) s"
check "  ... the body crossed the wire once (sum of GET bytes within [size, 1.1 size])" within "$2"
"$APCTL" ls --json > "$TMP/ls.json"
check "  ... one catalog entry for the ref, ready" python3 -c '
import json, sys
es = [e for e in json.load(open(sys.argv[1])) if e["ref"] == sys.argv[2]]
sys.exit(0 if len(es) == 1 and es[0]["status"] == "ready" else 1)' "$TMP/ls.json" "$U"
check "  ... one blob, with the right bytes" sh -c \
    "[ \$(find '$AP_HOME/blobs/sha256' -type f | wc -l) -eq 1 ] && \
     [ \"\$(sha256sum '$AP_HOME/blobs/sha256/$(echo $C | cut -c1-2)/$C' | cut -d' ' -f1)\" = $C ]"
check "  ... sum of fetched_bytes reported is within [size, 1.1 size]" within \
    "$(python3 -c '
import json, sys
print(sum(json.load(open(f))["fetched_bytes"] for f in sys.argv[1:]))' \
        "$TMP/o1.json" "$TMP/o2.json" "$TMP/o3.json" 2> /dev/null || echo 0)"

# --- three processes, the same bytes through two vendors --------------------
U2="$FILES/files/d.bin#sha256=$D"
run3 "$U2" hf:org/conc/d.bin "$U2"
check "url + hf + url of the same bytes at once: first exits 0" [ "$rc1" -eq 0 ]
check "  ... second (hf) exits 0" [ "$rc2" -eq 0 ]
check "  ... third exits 0" [ "$rc3" -eq 0 ]
check "  ... each reported path has the right bytes" paths_ok "$D"
set -- $(body_gets /files/d.bin "/$D")
diag "files server + CDN: $1 GET(s) of d.bin, $2 body bytes (size $SIZE)"
check "  ... the body crossed the wire once (sum of GET bytes within [size, 1.1 size])" within "$2"
check "  ... two blobs in the store now" [ "$(find "$AP_HOME/blobs/sha256" -type f | wc -l)" -eq 2 ]

# --- the store afterwards ---------------------------------------------------
python3 "$AP_SRC/t/helpers/store_check.py" "$AP_HOME" > "$TMP/sc" 2>&1
check "store invariants hold (blobs named by content, ready entries complete)" [ $? -eq 0 ]
cat "$TMP/sc"
check "nothing left in staging/" sh -c \
    "[ -z \"\$(find '$AP_HOME/staging' -type f -size +0 2>/dev/null)\" ]"
"$APCTL" verify > "$TMP/v" 2>&1
check "apctl verify exits 0" [ $? -eq 0 ]
"$APCTL" pull "$U" > "$TMP/again" 2>&1
check "a later pull says already present" grep -q 'already present' "$TMP/again"
done_testing
