/* libartifactprov — GitHub releases vendor: checksum files and signature
 * documents.
 *
 * Checksum files use the coreutils line format that sha256sum writes and
 * `sha256sum -c` reads:
 *
 *   <64 hex>  name        text mode (two spaces)
 *   <64 hex> *name        binary mode
 *   \<64 hex>  na\\me     a name with '\' or a newline, escaped as \\ and \n
 *
 * Blank lines and lines starting with '#' are skipped; a leading "./" of a
 * name is ignored; CR before LF is tolerated.  A NAME.sha256 file may also
 * hold the digest alone.  SPDX-License-Identifier: MIT */
#include "gh.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_hex64(const char *s, size_t n)
{
    size_t i;
    if (n < 64)
        return 0;
    for (i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return n == 64 || s[64] == ' ' || s[64] == '\t';
}

/* Compare the (possibly escaped) name s[0..n) with want. */
static int name_equals(const char *s, size_t n, int escaped, const char *want)
{
    size_t i;
    const char *w = want;
    if (n >= 2 && s[0] == '.' && s[1] == '/') {
        s += 2;
        n -= 2;
    }
    for (i = 0; i < n; i++, w++) {
        char ch = s[i];
        if (escaped && ch == '\\' && i + 1 < n) {
            i++;
            ch = s[i] == 'n' ? '\n' : s[i];
        }
        if (!*w || *w != ch)
            return 0;
    }
    return *w == '\0';
}

int ghv_sums_lookup(const char *doc, size_t len, const char *name, int bare_ok,
                    char out[65])
{
    const char *p = doc, *end = doc + len;
    size_t nlines = 0, i;
    const char *bare = NULL;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end, *q = p;
        int escaped = 0;
        size_t n;
        if (le > p && le[-1] == '\r')
            le--;
        n = (size_t)(le - p);
        if (n && *q != '#') {
            nlines++;
            if (*q == '\\') {
                escaped = 1;
                q++;
                n--;
            }
            if (is_hex64(q, n)) {
                const char *nm = q + 64;
                size_t nn;
                if (n == 64 || (n > 64 && strspn(nm, " \t") >= n - 64)) {
                    if (!bare)
                        bare = q;
                } else if (n > 66 && nm[0] == ' ' && (nm[1] == ' ' || nm[1] == '*')) {
                    nm += 2;
                    nn = n - 66;
                    if (name_equals(nm, nn, escaped, name)) {
                        for (i = 0; i < 64; i++)
                            out[i] = (char)tolower((unsigned char)q[i]);
                        out[64] = '\0';
                        return 1;
                    }
                }
            }
        }
        p = eol ? eol + 1 : end;
    }
    if (bare_ok && bare && nlines == 1) {
        for (i = 0; i < 64; i++)
            out[i] = (char)tolower((unsigned char)bare[i]);
        out[64] = '\0';
        return 1;
    }
    return 0;
}

static int b64_line(const char *s, size_t n)
{
    size_t i;
    if (n < 40)
        return 0;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/' && s[i] != '=')
            return 0;
    return 1;
}

int ghv_minisig_wellformed(const char *doc, size_t len)
{
    const char *lines[4];
    size_t lens[4], k = 0;
    const char *p = doc, *end = doc + len;
    while (p < end && k < 4) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        if (le > p && le[-1] == '\r')
            le--;
        lines[k] = p;
        lens[k++] = (size_t)(le - p);
        p = eol ? eol + 1 : end;
    }
    if (k < 4 || memchr(doc, '\0', len))
        return 0;
    return lens[0] >= 19 && strncmp(lines[0], "untrusted comment: ", 19) == 0 &&
           b64_line(lines[1], lens[1]) &&
           lens[2] >= 17 && strncmp(lines[2], "trusted comment: ", 17) == 0 &&
           b64_line(lines[3], lens[3]);
}

static int ends_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

int ghv_is_companion(const char *name)
{
    return strcasecmp(name, "SHA256SUMS") == 0 || strcasecmp(name, "SHA256SUMS.txt") == 0 ||
           ends_ci(name, "checksums.txt") || ends_ci(name, ".sha256") ||
           ends_ci(name, ".minisig") || ends_ci(name, ".sig") || ends_ci(name, ".asc");
}
