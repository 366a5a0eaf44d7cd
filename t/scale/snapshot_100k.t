#!/bin/sh
# `make check-scale` (run once by .ci/run, unsanitized): a real pull of a
# 100,000-file snapshot of small files from the fake hub under
# `ulimit -n 256` (a job holds locks and descriptors for one batch of
# files at a time, never per file of the entry), then the count of blobs
# and views on disk, the bytes of a sample, no lock file left, and
# `apctl ls` and `show` of the entry.  Resource bounds, never wall time:
# peak RSS of the pull from GNU time; CPU seconds of ls and show with
# `ulimit -t` (they read one document; trips only if reading turns
# quadratic).  AP_SCALE_FILES=N runs a smaller snapshot.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 9
N=${AP_SCALE_FILES:-100000}
C1=1111111111111111111111111111111111111111
python3 - "$TMP/cfg.json" "$N" <<PY
import json, sys
n = int(sys.argv[2])
files = {f"d{i // 1000:03d}/f{i:06d}.txt": {"content": f"small file {i}\n"} for i in range(n)}
json.dump({"repos": {"org/many": {"refs": {"main": "$C1"},
                                  "commits": {"$C1": {"files": files}}}}},
          open(sys.argv[1], "w"))
PY
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
# Measured at 100,000 files (2026-11-30, load average ~10): peak RSS
# 480,272 KiB, 45 s user + 68 s system CPU, 609 s wall for the pull; 5,000
# files: 37 MB.  The bound is 1.5x the measurement (linear growth).
MAXKB=${AP_SCALE_MAXKB:-720000}
rss() { sed -n 's/^maxrss=//p' "$1"; }

( ulimit -n 256; /usr/bin/time -f 'maxrss=%M\ncpu=%U s user, %S s system\nwall=%e s' \
    -o "$TMP/t1" "$APCTL" pull --quiet hf:org/many > "$TMP/out" 2> "$TMP/err" )
check "pull of $N files under ulimit -n 256" [ $? -eq 0 ]
diag "$(tail -3 "$TMP/err")"
diag "$(cat "$TMP/t1")"
check "... peak RSS under $MAXKB KiB (was $(rss "$TMP/t1") KiB)" [ "$(rss "$TMP/t1")" -lt "$MAXKB" ]
check "... $N blobs on disk" [ "$(find "$AP_HOME/blobs" -type f | wc -l)" -eq "$N" ]
check "... $N views on disk" [ "$(find "$AP_HOME/models/huggingface/org/many" -type f | wc -l)" -eq "$N" ]
S=$((N / 2 + 7))
F=$(printf 'd%03d/f%06d.txt' $((S / 1000)) $S)
check "... $F has its bytes" \
    sh -c "[ \"\$(cat \"\$(\"$APCTL\" path hf:org/many $F)\")\" = 'small file $S' ]"
check "... no stage-/blob- lock file left" \
    [ -z "$(ls "$AP_HOME/locks" | grep -e '^stage-' -e '^blob-' | head -1)" ]
( ulimit -n 256; ulimit -t 10; "$APCTL" ls > "$TMP/ls" 2> "$TMP/err" )
check "apctl ls lists the entry (within 10 CPU seconds)" grep -q "hf:org/many *(${N} files" "$TMP/ls"
diag "$(head -3 "$TMP/ls") $(cat "$TMP/err")"
( ulimit -n 256; ulimit -t 10; "$APCTL" show hf:org/many > "$TMP/show" 2> "$TMP/err" )
check "apctl show lists its $N files (within 10 CPU seconds)" \
    [ "$(grep -c '^  d[0-9]*/f[0-9]*\.txt ' "$TMP/show")" -eq "$N" ]
diag "$(head -2 "$TMP/show") $(cat "$TMP/err")"
( ulimit -n 256; ulimit -t 10; "$APCTL" show --json hf:org/many > "$TMP/show.json" 2> "$TMP/err" )
check "apctl show --json of it parses, $N files ready" python3 -c "
import json, sys
e = json.load(open(sys.argv[1]))
files = e['files']
sys.exit(not (len(files) == $N and all(f['status'] == 'ready' for f in files)))" "$TMP/show.json"
done_testing
