#!/bin/sh
# The documentation stands on its own and matches the code: no document or
# comment cites a design document outside the repository (by name or by
# section sign); every header a document names exists; docs/api.md has a
# section for every public header and names every exported symbol; the man
# pages describe every option the programs' --help lists.
. "${AP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/t/lib.sh"
plan 7
S=$AP_SRC
cd "$S" || exit 1
# Files written by the project (not build output, not the npm packages
# that t/js and bench/hfjs install), relative to the top.
find README.md docs include lib vendors examples t bench fuzz man Makefile \
     pkgconfig -type f ! -path 't/fixtures/*.pem' 2> /dev/null |
    grep -Ev '(^|/)(build|node_modules)/|\.(so|o|a|gguf|bin)$' | LC_ALL=C sort > "$TMP/files"

# 1-2. Outside references.  The patterns are assembled so this file does not
# match itself.
design="DESIGN"".md"
sect=$(printf '\302\247')
xargs grep -n -- "$design" < "$TMP/files" > "$TMP/design" 2> /dev/null
if [ ! -s "$TMP/design" ]; then ok "no file cites $design"
else not_ok "files cite $design (outside the repository)"; diag "$(cat "$TMP/design")"; fi
xargs grep -n -- "$sect" < "$TMP/files" > "$TMP/sect" 2> /dev/null
if [ ! -s "$TMP/sect" ]; then ok "no file cites a section sign ($sect N)"
else not_ok "files cite sections by $sect"; diag "$(cat "$TMP/sect")"; fi

# 3. Header names in the documents exist.  <artifactprov...> and
# include/... must be in include/; lib/, t/, vendors/, examples/, tools/ paths must
# exist; a bare name must be a public header (include/artifactprov/, sys/)
# or a file of lib/ or of one vendor.  Other <...> are system headers.
docs="README.md $(ls docs/*.md man/* t/fixtures/README.md 2> /dev/null)"
bad=
for tok in $(grep -ohE '<?[A-Za-z0-9_./-]*[A-Za-z0-9_]\.h\b' $docs | LC_ALL=C sort -u); do
    case $tok in
    \<artifactprov*) f="include/${tok#<}"; [ -f "$f" ] || bad="$bad $tok" ;;
    \<*) ;;
    include/* | lib/* | t/* | vendors/* | examples/* | tools/*) [ -f "$tok" ] || bad="$bad $tok" ;;
    artifactprov/*) [ -f "include/$tok" ] || bad="$bad $tok" ;;
    */*) [ -f "include/artifactprov/$tok" ] || bad="$bad $tok" ;;
    *) [ -f "include/artifactprov/$tok" ] || [ -f "include/$tok" ] ||
       [ -f "lib/$tok" ] || ls vendors/*/"$tok" > /dev/null 2>&1 || bad="$bad $tok" ;;
    esac
done
if [ -z "$bad" ]; then ok "every header the documents name exists"
else not_ok "documents name headers that do not exist:$bad"
    for b in $bad; do diag "$(grep -n -- "$b" $docs | head -n 3)"; done; fi

# 4. A section of docs/api.md per public header.
missing=
for h in include/artifactprov.h include/artifactprov/*.h include/artifactprov/sys/*.h; do
    [ -f "$h" ] || continue
    n=${h#include/}; n=${n#artifactprov/}
    grep -q "^### \`$n\`" docs/api.md || missing="$missing $n"
done
if [ -z "$missing" ]; then ok "docs/api.md has a section for every public header"
else not_ok "docs/api.md lacks a '### \`HEADER\`' section for:$missing"; fi

# 5. Every exported symbol is named in docs/api.md.
missing=
for sym in $(awk '{print $1}' lib/exports.txt); do
    grep -q "\\b$sym\\b" docs/api.md || missing="$missing $sym"
done
if [ -z "$missing" ]; then ok "docs/api.md names every exported symbol ($(wc -l < lib/exports.txt))"
else not_ok "exported symbols missing from docs/api.md:$missing"; fi

# 6-7. The man pages describe every option of --help ("\-\-name" in roff).
for pg in apctl:man/apctl.1 apd:man/apd.8; do
    prog=${pg%%:*}; page=${pg#*:}
    "$AP_BUILD/$prog" --help 2>&1 | grep -oE -- '--[a-z][a-z-]*' | LC_ALL=C sort -u > "$TMP/opts"
    missing=
    for o in $(cat "$TMP/opts"); do
        r=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        grep -q -- "$r" "$page" || missing="$missing $o"
    done
    if [ -s "$TMP/opts" ] && [ -z "$missing" ]; then
        ok "$page describes every option of $prog --help ($(wc -l < "$TMP/opts"))"
    else not_ok "$page lacks options of $prog --help:${missing:- (no options read)}"; fi
done
done_testing
