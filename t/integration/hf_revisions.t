#!/bin/sh
# Hugging Face revisions (tag, short commit, refs/pr/N, unknown), a branch
# that moves between two pulls (only the changed file is fetched again),
# dataset and space repos, and a renamed repository (relative redirects).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 49
C1=1234567aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
C2=2345678bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
C3=3456789ccccccccccccccccccccccccccccccccc
M1=4444444444444444444444444444444444444444
M2=5555555555555555555555555555555555555555
M3=6666666666666666666666666666666666666666
D1=7777777777777777777777777777777777777777
N1=8888888888888888888888888888888888888888
M4=4040404040404040404040404040404040404040

# count_new SINCE EXPR: like count_log, on log lines after the first SINCE.
count_new() {
    python3 -c '
import json, sys
n = 0
for i, l in enumerate(open(sys.argv[1])):
    l = l.strip()
    if l and i >= int(sys.argv[2]):
        r = json.loads(l)
        n += bool(eval(sys.argv[3]))
print(n)' "$FH_LOG" "$1" "$2"
}
log_lines() { wc -l < "$FH_LOG" | tr -d ' '; }
names() { json_get "$1" '" ".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null; }
path_of() { json_get "$1" "[x['path'] for x in j['files'] if x['name']=='$2'][0]" 2>/dev/null; }
content_of() { p=$(path_of "$1" "$2"); [ -n "$p" ] && cat "$p"; }

S="$TMP/src"
mkdir -p "$S"
for s in a b b2 c; do gen_bytes 300000 "mv-$s" > "$S/$s.bin"; done
gen_bytes 200000 parquet > "$S/part.parquet"
gen_bytes 150000 renamed > "$S/ren.bin"

# write_cfg MAIN_OF_ORG_MOVE CONFIG_JSON_OF_M3: writes the config atomically.
write_cfg() {
    cat > "$TMP/cfg.tmp" <<JSON
{"repos": {
  "org/rev": {"refs": {"main": "$C2", "v1.0": "$C1", "feature/x": "$C2", "refs/pr/1": "${C3%%ccccccccccccccccccccccccccccccccc}"},
    "commits": {
      "$C1": {"files": {"config.json": {"content": "v1"}, "w.bin": {"generate": {"size": 100000, "seed": 1}, "lfs": true}}},
      "$C2": {"files": {"config.json": {"content": "v2"}, "w.bin": {"generate": {"size": 100000, "seed": 2}, "lfs": true}}},
      "$C3": {"files": {"config.json": {"content": "pr1"}, "sub/x.txt": {"content": "in pr"}}}
  }},
  "org/move": {"refs": {"main": "$1"},
    "commits": {
      "$M1": {"files": {"config.json": {"content": "cfg-1"},
                        "a.bin": {"source": "$S/a.bin", "lfs": true},
                        "b.bin": {"source": "$S/b.bin", "lfs": true},
                        "c.bin": {"source": "$S/c.bin", "lfs": true}}},
      "$M2": {"files": {"config.json": {"content": "cfg-1"},
                        "a.bin": {"source": "$S/a.bin", "lfs": true},
                        "b.bin": {"source": "$S/b2.bin", "lfs": true},
                        "c.bin": {"source": "$S/c.bin", "lfs": true}}},
      "$M3": {"files": {"config.json": {"content": "$2"},
                        "a.bin": {"source": "$S/a.bin", "lfs": true},
                        "b.bin": {"source": "$S/b2.bin", "lfs": true},
                        "c.bin": {"source": "$S/c.bin", "lfs": true}}},
      "$M4": {"files": {"config.json": {"content": "$2"},
                        "a.bin": {"source": "$S/a.bin", "lfs": true},
                        "b.bin": {"source": "$S/b2.bin", "lfs": true},
                        "d.txt": {"content": "new file"}}}
  }},
  "org/ds": {"type": "dataset", "refs": {"main": "$D1"}, "commits": {"$D1": {"files": {
      "data.csv": {"content": "a,b\\n1,2\\n"},
      "sub/part.parquet": {"source": "$S/part.parquet", "lfs": true}}}}},
  "org/app": {"type": "space", "files": {"app.py": {"content": "print('hi')"}}},
  "org/old": {"renamed_to": "org/new"},
  "org/new": {"refs": {"main": "$N1"}, "commits": {"$N1": {"files": {
      "config.json": {"content": "renamed"},
      "ren.bin": {"source": "$S/ren.bin", "lfs": true}}}}}
 }}
JSON
    mv "$TMP/cfg.tmp" "$TMP/cfg.json"
    # a running hub is told (a rewrite in the same second may keep the
    # file's mtime on a coarse filesystem)
    if [ -n "$FH_PID" ]; then
        [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$TMP/cfg.json" \
            "$HUB/_admin/config")" = 200 ] || echo "Bail out! the hub refused the new config"
    fi
}
write_cfg "$M1" cfg-1
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"

# --- tag ---
"$APCTL" pull --json hf:org/rev@v1.0/config.json > "$TMP/t.json" 2> "$TMP/err"
rc=$?
check "@v1.0 exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "@v1.0 gives the tag's content" [ "$(content_of "$TMP/t.json" config.json)" = v1 ]
check "@v1.0: revision is the tag's full commit" [ "$(json_get "$TMP/t.json" 'j["revision"]' 2>/dev/null)" = "$C1" ]

# --- short commit ---
AP_HOME="$TMP/home-s" "$APCTL" pull --json hf:org/rev@1234567/config.json > "$TMP/s.json" 2> "$TMP/err"
rc=$?
check "@<7-hex short commit> exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "short commit gives that commit's content" [ "$(content_of "$TMP/s.json" config.json)" = v1 ]
check "short commit: revision is the full 40-hex commit" [ "$(json_get "$TMP/s.json" 'j["revision"]' 2>/dev/null)" = "$C1" ]
AP_HOME="$TMP/home-s" "$APCTL" pull --json hf:org/rev@1234567/w.bin > "$TMP/s2.json" 2> "$TMP/err"
gen_bytes 100000 1 > "$TMP/w1.bin"
check "short commit, LFS file bytes" cmp -s "$(path_of "$TMP/s2.json" w.bin)" "$TMP/w1.bin"

# --- refs/pr/1 ---
AP_HOME="$TMP/home-pr" "$APCTL" pull --json hf:org/rev@refs/pr/1/config.json > "$TMP/pr.json" 2> "$TMP/err"
rc=$?
check "@refs/pr/1 exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "@refs/pr/1 gives the PR's content" [ "$(content_of "$TMP/pr.json" config.json)" = pr1 ]
check "@refs/pr/1: revision is the full commit" [ "$(json_get "$TMP/pr.json" 'j["revision"]' 2>/dev/null)" = "$C3" ]
check "the hub saw refs%2Fpr%2F1 in a URL" [ "$(count_log 'r["server"]=="hub" and "refs%2Fpr%2F1" in r["path"]')" -ge 1 ]
check "no URL carried refs/pr/1 unencoded" [ "$(count_log '"/refs/pr/1" in r["path"]')" -eq 0 ]
AP_HOME="$TMP/home-pr" "$APCTL" pull --json hf:org/rev@refs/pr/1 > "$TMP/prs.json" 2> "$TMP/err"
rc=$?
check "@refs/pr/1 snapshot: the PR's two files" sh -c \
    "[ $rc -eq 0 ] && [ '$(names "$TMP/prs.json")' = 'config.json sub/x.txt' ] && [ '$(content_of "$TMP/prs.json" sub/x.txt)' = 'in pr' ]"

# --- a branch with a slash, written %2F ---
AP_HOME="$TMP/home-br" "$APCTL" pull --json 'hf:org/rev@feature%2Fx/config.json' > "$TMP/br.json" 2> "$TMP/err"
rc=$?
check "@feature%2Fx (branch feature/x): exits 0, content, revision" sh -c \
    "[ $rc -eq 0 ] && [ '$(content_of "$TMP/br.json" config.json)' = v2 ] && [ '$(json_get "$TMP/br.json" 'j["revision"]' 2>/dev/null)' = '$C2' ]"
[ $rc -eq 0 ] || diag "$(cat "$TMP/err")"
check "the hub saw feature%2Fx" [ "$(count_log '"/resolve/feature%2Fx/" in r["path"]')" -ge 1 ]

# --- unknown revision ---
"$APCTL" pull hf:org/rev@nope/config.json > /dev/null 2> "$TMP/err"
rc=$?
check "unknown revision fails: revision 'nope' not found" sh -c \
    "[ $rc -ne 0 ] && grep -q 'hf:org/rev@nope/config.json' '$TMP/err' && grep -q \"revision 'nope' not found\" '$TMP/err'"
diag "$(cat "$TMP/err")"

# --- a branch that moves: only the changed file is fetched again ---
"$APCTL" pull --json hf:org/move@main > "$TMP/m1.json" 2> "$TMP/err"
rc=$?
check "org/move@main (first) exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "first pull: revision M1, 4 files" sh -c \
    "[ '$(json_get "$TMP/m1.json" 'j["revision"]' 2>/dev/null)' = '$M1' ] && [ '$(names "$TMP/m1.json")' = 'a.bin b.bin c.bin config.json' ]"
write_cfg "$M2" cfg-1
since=$(log_lines)
"$APCTL" pull --json hf:org/move@main > "$TMP/m2.json" 2> "$TMP/err"
rc=$?
check "re-pull after main moved exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "re-pull: revision updated to the new commit" [ "$(json_get "$TMP/m2.json" 'j["revision"]' 2>/dev/null)" = "$M2" ]
bad=
for f in a c; do cmp -s "$(path_of "$TMP/m2.json" $f.bin)" "$S/$f.bin" || bad="$bad $f.bin"; done
cmp -s "$(path_of "$TMP/m2.json" b.bin)" "$S/b2.bin" || bad="$bad b.bin"
[ "$(content_of "$TMP/m2.json" config.json)" = cfg-1 ] || bad="$bad config.json"
check "re-pull: all four files have the new commit's bytes" [ -z "$bad" ]
[ -n "$bad" ] && diag "wrong:$bad"
B2=$(sha256 "$S/b2.bin")
n_body=$(count_new "$since" 'r["method"]=="GET" and r["bytes"]>0 and (r["server"]=="cdn" or (r["server"]=="hub" and "/resolve/" in r["path"]))')
n_b2=$(count_new "$since" 'r["server"]=="cdn" and r["method"]=="GET" and r["bytes"]>0 and "'"$B2"'" in r["path"]')
check "re-pull: the changed b.bin was fetched from the CDN" [ "$n_b2" -ge 1 ]
check "re-pull: no other file body was fetched (CDN or resolve GET)" [ "$n_body" -eq "$n_b2" ]
[ "$n_body" -eq "$n_b2" ] || diag "$(sed -n "$((since + 1)),\$p" "$FH_LOG" | grep -v '"/api/')"
check "re-pull: fetched_bytes is b.bin's size" [ "$(json_get "$TMP/m2.json" 'j["fetched_bytes"]' 2>/dev/null)" = "$(stat -c %s "$S/b2.bin")" ]
"$APCTL" show hf:org/move@main --json > "$TMP/m2s.json" 2>&1
check "show: the catalog entry has the new revision" [ "$(json_get "$TMP/m2s.json" 'j["revision"]' 2>/dev/null)" = "$M2" ]

# now only the small regular file changes
write_cfg "$M3" cfg-3
since=$(log_lines)
"$APCTL" pull --json hf:org/move@main > "$TMP/m3.json" 2> "$TMP/err"
rc=$?
check "re-pull after a regular-file change exits 0" [ $rc -eq 0 ]
check "re-pull 3: revision M3, new config.json content" sh -c \
    "[ '$(json_get "$TMP/m3.json" 'j["revision"]' 2>/dev/null)' = '$M3' ] && [ '$(content_of "$TMP/m3.json" config.json)' = cfg-3 ]"
check "re-pull 3: nothing from the CDN" [ "$(count_new "$since" 'r["server"]=="cdn" and r["method"]=="GET"')" -eq 0 ]
check "re-pull 3: exactly one resolve GET with a body (config.json)" sh -c \
    "[ $(count_new "$since" 'r["server"]=="hub" and r["method"]=="GET" and "/resolve/" in r["path"] and r["bytes"]>0') -eq 1 ] && \
     [ $(count_new "$since" 'r["server"]=="hub" and r["method"]=="GET" and "/resolve/" in r["path"] and r["bytes"]>0 and r["path"].endswith("/config.json")') -eq 1 ]"

# a file removed (c.bin) and one added (d.txt)
write_cfg "$M4" cfg-3
since=$(log_lines)
"$APCTL" pull --json hf:org/move@main > "$TMP/m4.json" 2> "$TMP/err"
rc=$?
check "re-pull after a file was removed and one added exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "re-pull 4: the entry lists exactly the new commit's files" [ "$(names "$TMP/m4.json")" = "a.bin b.bin config.json d.txt" ]
check "re-pull 4: d.txt content, revision M4" sh -c \
    "[ '$(content_of "$TMP/m4.json" d.txt)' = 'new file' ] && [ '$(json_get "$TMP/m4.json" 'j["revision"]' 2>/dev/null)' = '$M4' ]"
check "re-pull 4: nothing from the CDN" [ "$(count_new "$since" 'r["server"]=="cdn" and r["method"]=="GET"')" -eq 0 ]

# --- datasets ---
AP_HOME="$TMP/home-ds" "$APCTL" pull --json hf:datasets/org/ds/data.csv > "$TMP/ds.json" 2> "$TMP/err"
rc=$?
check "hf:datasets/org/ds/data.csv exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "dataset file content" [ "$(content_of "$TMP/ds.json" data.csv)" = "$(printf 'a,b\n1,2\n')" ]
check "dataset: name datasets/org/ds" [ "$(json_get "$TMP/ds.json" 'j["name"]' 2>/dev/null)" = datasets/org/ds ]
check "dataset: resolved under /datasets/ on the hub" [ "$(count_log '"/datasets/org/ds/resolve/" in r["path"]')" -ge 1 ]
AP_HOME="$TMP/home-ds" "$APCTL" pull --json hf:datasets/org/ds > "$TMP/dss.json" 2> "$TMP/err"
rc=$?
check "dataset snapshot: both files, parquet bytes" sh -c \
    "[ $rc -eq 0 ] && [ '$(names "$TMP/dss.json")' = 'data.csv sub/part.parquet' ] && cmp -s '$(path_of "$TMP/dss.json" sub/part.parquet)' '$S/part.parquet'"
check "dataset snapshot used /api/datasets/" [ "$(count_log '"/api/datasets/org/ds" in r["path"]')" -ge 1 ]
AP_HOME="$TMP/home-ds" "$APCTL" pull hf:org/ds/data.csv > /dev/null 2> "$TMP/err"
rc=$?
check "the dataset as a model reference: not found" sh -c "[ $rc -ne 0 ] && grep -qi 'not found' '$TMP/err'"

# --- spaces ---
AP_HOME="$TMP/home-sp" "$APCTL" pull --json hf:spaces/org/app@main/app.py > "$TMP/sp.json" 2> "$TMP/err"
rc=$?
check "hf:spaces/org/app@main/app.py exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "space file content" [ "$(content_of "$TMP/sp.json" app.py)" = "print('hi')" ]
check "space: name spaces/org/app, resolved under /spaces/" sh -c \
    "[ '$(json_get "$TMP/sp.json" 'j["name"]' 2>/dev/null)' = spaces/org/app ] && [ $(count_log '"/spaces/org/app/resolve/" in r["path"]') -ge 1 ]"
check "space: revision is a 40-hex commit" sh -c \
    "echo '$(json_get "$TMP/sp.json" 'j["revision"]' 2>/dev/null)' | grep -Eqx '[0-9a-f]{40}'"

# --- renamed repository ---
AP_HOME="$TMP/home-rn" "$APCTL" pull --json hf:org/old/ren.bin > "$TMP/rn.json" 2> "$TMP/err"
rc=$?
check "renamed repo: single LFS file exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "renamed repo: bytes of org/new's file" cmp -s "$(path_of "$TMP/rn.json" ren.bin)" "$S/ren.bin"
check "renamed repo: the hub answered 307 for org/old" [ "$(count_log '"/org/old/" in r["path"] and r["status"]==307')" -ge 1 ]
AP_HOME="$TMP/home-rn" "$APCTL" pull --json hf:org/old > "$TMP/rns.json" 2> "$TMP/err"
rc=$?
check "renamed repo: snapshot exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check "renamed repo snapshot: both files, revision N1" sh -c \
    "[ '$(names "$TMP/rns.json")' = 'config.json ren.bin' ] && [ '$(content_of "$TMP/rns.json" config.json)' = renamed ] && [ '$(json_get "$TMP/rns.json" 'j["revision"]' 2>/dev/null)' = '$N1' ]"
done_testing
