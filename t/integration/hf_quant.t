#!/bin/sh
# GGUF quant tags on Hugging Face references: hf:org/repo:TAG picks the file,
# case-insensitively; split GGUFs bring all their parts; :default prefers
# Q4_K_M; an unknown tag fails listing the tags that exist; classification
# of the fetched GGUF (format, precision).
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 31
C1=a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1
C2=b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2
C3=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
C4=d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4

names() { json_get "$1" '" ".join(sorted(f["name"] for f in j["files"]))' 2>/dev/null; }
path_of() { json_get "$1" "[x['path'] for x in j['files'] if x['name']=='$2'][0]" 2>/dev/null; }

G="$TMP/g"
mkdir -p "$G"
MK="$AP_SRC/t/fixtures/mkgguf.py"
python3 "$MK" "$G/x.Q4_K_M.gguf" --size 200000 --file-type 15 --seed km
python3 "$MK" "$G/x.Q4_K_S.gguf" --size 190000 --file-type 14 --seed ks
python3 "$MK" "$G/a.Q8_0.gguf" --size 210000 --file-type 7 --seed q8
python3 "$MK" "$G/m-Q8_0-00001-of-00003.gguf" --size 150000 --file-type 7 --seed s1
gen_bytes 150000 s2 > "$G/m-Q8_0-00002-of-00003.gguf"
gen_bytes 120000 s3 > "$G/m-Q8_0-00003-of-00003.gguf"
python3 "$MK" "$G/m-Q4_0.gguf" --size 100000 --file-type 2 --seed q40
python3 "$MK" "$G/mmproj-F16.gguf" --size 80000 --file-type 1 --seed mm
python3 "$MK" "$G/z.IQ4_XS.gguf" --size 90000 --file-type 30 --seed iq

cat > "$TMP/cfg.json" <<JSON
{"repos": {
  "org/q": {"refs": {"main": "$C1"}, "commits": {"$C1": {"files": {
     "README.md": {"content": "quants"},
     "a.Q8_0.gguf": {"source": "$G/a.Q8_0.gguf", "lfs": true},
     "x.Q4_K_M.gguf": {"source": "$G/x.Q4_K_M.gguf", "lfs": true},
     "x.Q4_K_S.gguf": {"source": "$G/x.Q4_K_S.gguf", "lfs": true},
     "z.IQ4_XS.gguf": {"source": "$G/z.IQ4_XS.gguf", "lfs": true}
  }}}},
  "org/split": {"refs": {"main": "$C2"}, "commits": {"$C2": {"files": {
     "config.json": {"content": "{}"},
     "m-Q4_0.gguf": {"source": "$G/m-Q4_0.gguf", "lfs": true},
     "m-Q8_0-00001-of-00003.gguf": {"source": "$G/m-Q8_0-00001-of-00003.gguf", "lfs": true},
     "m-Q8_0-00002-of-00003.gguf": {"source": "$G/m-Q8_0-00002-of-00003.gguf", "lfs": true},
     "m-Q8_0-00003-of-00003.gguf": {"source": "$G/m-Q8_0-00003-of-00003.gguf", "lfs": true}
  }}}},
  "org/holes": {"refs": {"main": "$C3"}, "commits": {"$C3": {"files": {
     "h-Q8_0-00001-of-00003.gguf": {"source": "$G/m-Q8_0-00001-of-00003.gguf", "lfs": true},
     "h-Q8_0-00003-of-00003.gguf": {"source": "$G/m-Q8_0-00003-of-00003.gguf", "lfs": true}
  }}}},
  "org/mm": {"files": {
     "mmproj-F16.gguf": {"source": "$G/mmproj-F16.gguf", "lfs": true},
     "w.F16.gguf": {"source": "$G/m-Q4_0.gguf", "lfs": true}
  }},
  "org/nogguf": {"refs": {"main": "$C4"}, "commits": {"$C4": {"files": {
     "config.json": {"content": "{}"},
     "model.safetensors": {"generate": {"size": 1000, "seed": 1}, "lfs": true}
  }}}}
 }}
JSON
start_hub "$TMP/cfg.json"
export HF_ENDPOINT="$HUB"
KS=$(sha256 "$G/x.Q4_K_S.gguf")

# --- :Q4_K_M ---
"$APCTL" pull --json hf:org/q:Q4_K_M > "$TMP/km.json" 2> "$TMP/err"
rc=$?
check ":Q4_K_M exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check ":Q4_K_M selects exactly x.Q4_K_M.gguf" [ "$(names "$TMP/km.json")" = x.Q4_K_M.gguf ]
check ":Q4_K_M bytes" cmp -s "$(path_of "$TMP/km.json" x.Q4_K_M.gguf)" "$G/x.Q4_K_M.gguf"
check ":Q4_K_M sha256 recorded" [ "$(json_get "$TMP/km.json" 'j["files"][0]["sha256"]' 2>/dev/null)" = "$(sha256 "$G/x.Q4_K_M.gguf")" ]
check "json: format gguf" [ "$(json_get "$TMP/km.json" 'j["files"][0]["format"]' 2>/dev/null)" = gguf ]
check "json: precision q4_k_m (general.file_type 15)" [ "$(json_get "$TMP/km.json" 'j["files"][0]["precision"]' 2>/dev/null)" = q4_k_m ]
check "json: revision is the commit" [ "$(json_get "$TMP/km.json" 'j["revision"]' 2>/dev/null)" = "$C1" ]
check "x.Q4_K_S.gguf never requested from the CDN" [ "$(count_log '"'"$KS"'" in r["path"]')" -eq 0 ]
check "nor from the hub" [ "$(count_log '"Q4_K_S" in r["path"]')" -eq 0 ]

# --- :q4_k_m (case-insensitive), fresh home ---
AP_HOME="$TMP/home2" "$APCTL" pull --json hf:org/q:q4_k_m > "$TMP/km2.json" 2> "$TMP/err"
rc=$?
check ":q4_k_m (lower case) exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check ":q4_k_m selects x.Q4_K_M.gguf" [ "$(names "$TMP/km2.json")" = x.Q4_K_M.gguf ]
check ":q4_k_m bytes" cmp -s "$(path_of "$TMP/km2.json" x.Q4_K_M.gguf)" "$G/x.Q4_K_M.gguf"

# --- :Q4_K_S gets the other one; :IQ4_XS; Q4_K alone matches nothing ---
AP_HOME="$TMP/home3" "$APCTL" pull --json hf:org/q:Q4_K_S > "$TMP/ks.json" 2> "$TMP/err"
check ":Q4_K_S selects exactly x.Q4_K_S.gguf" [ "$(names "$TMP/ks.json")" = x.Q4_K_S.gguf ]
AP_HOME="$TMP/home3" "$APCTL" pull --json hf:org/q:iq4_xs > "$TMP/iq.json" 2> "$TMP/err"
check ":iq4_xs selects exactly z.IQ4_XS.gguf" [ "$(names "$TMP/iq.json")" = z.IQ4_XS.gguf ]
AP_HOME="$TMP/home3" "$APCTL" pull hf:org/q:Q4_K > /dev/null 2> "$TMP/err"
rc=$?
check ":Q4_K (a prefix of Q4_K_M/Q4_K_S) matches nothing and fails" [ $rc -ne 0 ]

# --- :default prefers Q4_K_M over the earlier a.Q8_0.gguf ---
AP_HOME="$TMP/home4" "$APCTL" pull --json hf:org/q:default > "$TMP/def.json" 2> "$TMP/err"
rc=$?
check ":default exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check ":default picks x.Q4_K_M.gguf" [ "$(names "$TMP/def.json")" = x.Q4_K_M.gguf ]
# without Q4_K_M, :default takes the split Q8_0 (all parts), not m-Q4_0.gguf
AP_HOME="$TMP/home4" "$APCTL" pull --json hf:org/split:default > "$TMP/def2.json" 2> "$TMP/err"
check ":default without Q4_K_M takes Q8_0 (all split parts)" \
    [ "$(names "$TMP/def2.json")" = "m-Q8_0-00001-of-00003.gguf m-Q8_0-00002-of-00003.gguf m-Q8_0-00003-of-00003.gguf" ]
# neither Q4_K_M nor Q8_0: the first GGUF in path order that is not mmproj*
AP_HOME="$TMP/home4" "$APCTL" pull --json hf:org/mm:default > "$TMP/def3.json" 2> "$TMP/err"
check ":default skips mmproj-F16.gguf for w.F16.gguf" [ "$(names "$TMP/def3.json")" = w.F16.gguf ]

# --- split GGUF with :Q8_0 ---
AP_HOME="$TMP/home5" "$APCTL" pull --json hf:org/split:Q8_0 > "$TMP/split.json" 2> "$TMP/err"
rc=$?
check ":Q8_0 on a split model exits 0" [ $rc -eq 0 ]
[ -s "$TMP/err" ] && diag "$(cat "$TMP/err")"
check ":Q8_0 brings the three parts and nothing else" \
    [ "$(names "$TMP/split.json")" = "m-Q8_0-00001-of-00003.gguf m-Q8_0-00002-of-00003.gguf m-Q8_0-00003-of-00003.gguf" ]
bad=
for i in 1 2 3; do
    f=m-Q8_0-0000$i-of-00003.gguf
    cmp -s "$(path_of "$TMP/split.json" $f)" "$G/$f" || bad="$bad $f"
done
check "all three parts have the right bytes" [ -z "$bad" ]
[ -n "$bad" ] && diag "wrong:$bad"
check "json: total_size is the sum of the parts" [ "$(json_get "$TMP/split.json" 'j["total_size"]' 2>/dev/null)" = \
    "$(( $(stat -c %s "$G/m-Q8_0-00001-of-00003.gguf") + $(stat -c %s "$G/m-Q8_0-00002-of-00003.gguf") + $(stat -c %s "$G/m-Q8_0-00003-of-00003.gguf") ))" ]

# --- a split model with a missing part ---
AP_HOME="$TMP/home6" "$APCTL" pull hf:org/holes:Q8_0 > /dev/null 2> "$TMP/err"
rc=$?
check "split model with a missing part fails" [ $rc -ne 0 ]
check "message says which part is missing" grep -q 'part 2 of 3 is missing' "$TMP/err"
[ $rc -ne 0 ] && diag "$(cat "$TMP/err")"

# --- unknown tag ---
n_cdn=$(count_log 'r["server"]=="cdn"')
AP_HOME="$TMP/home7" "$APCTL" pull hf:org/q:Q2_K > "$TMP/out" 2> "$TMP/err"
rc=$?
check "unknown tag :Q2_K fails" [ $rc -ne 0 ]
check "message is one line naming the reference" sh -c "[ \$(wc -l < '$TMP/err') -eq 1 ] && grep -q 'hf:org/q:Q2_K' '$TMP/err'"
check "message lists the tags that exist (Q4_K_M Q4_K_S Q8_0 IQ4_XS)" sh -c \
    "grep -q 'Q4_K_M' '$TMP/err' && grep -q 'Q4_K_S' '$TMP/err' && grep -q 'Q8_0' '$TMP/err' && grep -q 'IQ4_XS' '$TMP/err'"
diag "$(cat "$TMP/err")"
check "nothing was fetched from the CDN for the unknown tag" [ "$(count_log 'r["server"]=="cdn"')" -eq "$n_cdn" ]
check "no ready catalog entry for :Q2_K" sh -c "! grep -rl 'Q2_K' '$TMP/home7/catalog' 2>/dev/null | xargs grep -l '\"ready\"' 2>/dev/null | grep -q ."

# --- a tag on a repository without GGUF ---
AP_HOME="$TMP/home7" "$APCTL" pull hf:org/nogguf:Q4_K_M > /dev/null 2> "$TMP/err"
rc=$?
check "quant tag on a repo without GGUF fails saying there is no GGUF" sh -c "[ $rc -ne 0 ] && grep -qi 'gguf' '$TMP/err'"
[ $rc -ne 0 ] && diag "$(cat "$TMP/err")"
done_testing
