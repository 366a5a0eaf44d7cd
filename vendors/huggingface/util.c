/* libartifactprov — Hugging Face vendor: small pure helpers (ETags, Link
 * headers, GGUF names, edit distance, URLs).  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int hfv_is_hex(const char *s, size_t n)
{
    size_t i;
    if (!s)
        return 0;
    for (i = 0; s[i]; i++)
        if (i >= n || !isxdigit((unsigned char)s[i]))
            return 0;
    return i == n;
}

char *hfv_etag_normalize(const char *etag)
{
    size_t n;
    char *out, *o;
    if (!etag)
        return NULL;
    while (*etag == ' ' || *etag == '\t')
        etag++;
    if (etag[0] == 'W' && etag[1] == '/')
        etag += 2;
    n = strlen(etag);
    while (n && (etag[n - 1] == ' ' || etag[n - 1] == '\t'))
        n--;
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (!(out = malloc(n + 1)))
        return NULL;
    for (o = out; n--; etag++)
        *o++ = (char)tolower((unsigned char)*etag);
    *o = '\0';
    return out;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Does the (unquoted) rel value list contain "next"? */
static int rel_has_next(const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        j = i;
        while (j < n && v[j] != ' ' && v[j] != '\t')
            j++;
        if (j - i == 4 && strncasecmp(v + i, "next", 4) == 0)
            return 1;
        i = j;
    }
    return 0;
}

char *hfv_link_next(const char *link, int *oom)
{
    const char *p = link;
    *oom = 0;
    if (!link)
        return NULL;
    while (*p) {
        const char *start, *end;
        int is_next = 0;
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p != '<') {
            /* Not a link-value: skip to the next comma. */
            while (*p && *p != ',')
                p++;
            continue;
        }
        start = p + 1;
        if (!(end = strchr(start, '>')))
            return NULL;
        p = end + 1;
        /* Parameters up to the next ',' outside quotes. */
        while (*p && *p != ',') {
            const char *name, *val = NULL;
            size_t nname, nval = 0;
            p = skip_ws(p);
            if (*p == ';') {
                p++;
                continue;
            }
            if (*p == ',' || !*p)
                break;
            name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            nname = (size_t)(p - name);
            p = skip_ws(p);
            if (*p == '=') {
                p = skip_ws(p + 1);
                if (*p == '"') {
                    val = ++p;
                    while (*p && *p != '"') {
                        if (*p == '\\' && p[1])
                            p++;
                        p++;
                    }
                    nval = (size_t)(p - val);
                    if (*p == '"')
                        p++;
                } else {
                    val = p;
                    while (*p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t')
                        p++;
                    nval = (size_t)(p - val);
                }
            }
            if (nname == 3 && strncasecmp(name, "rel", 3) == 0 && val &&
                rel_has_next(val, nval))
                is_next = 1;
            if (p == name) /* no progress: skip one byte */
                p++;
        }
        if (is_next) {
            char *u;
            while (start < end && (*start == ' ' || *start == '\t'))
                start++;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            if (end == start)
                return NULL;
            if (!(u = strndup(start, (size_t)(end - start))))
                *oom = 1;
            return u;
        }
    }
    return NULL;
}

int hfv_ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

const char *hfv_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int hfv_is_gguf(const char *path)
{
    return hfv_ends_with_ci(path, ".gguf");
}

int hfv_quant_match(const char *path, const char *tag)
{
    const char *base = hfv_basename(path);
    size_t tl = strlen(tag), i, bl = strlen(base);
    if (!tl || tl > bl)
        return 0;
    for (i = 0; i + tl <= bl; i++) {
        char before = i ? base[i - 1] : '.';
        char after = base[i + tl];
        if ((before == '.' || before == '-' || before == '_') &&
            (after == '.' || after == '-') &&
            strncasecmp(base + i, tag, tl) == 0)
            return 1;
    }
    return 0;
}

/* Is s[0..n) a quant token?  Q4_K_M, IQ2_XS, TQ1_0, F16, BF16, FP16, F32,
 * MXFP4_MOE. */
static int quant_token(const char *s, size_t n)
{
    size_t i = 0, j;
    if (n == 0 || n > 32)
        return 0;
    if (n >= 2 && (toupper((unsigned char)s[0]) == 'I' ||
                   toupper((unsigned char)s[0]) == 'T') &&
        toupper((unsigned char)s[1]) == 'Q')
        i = 1;
    if (toupper((unsigned char)s[i]) == 'Q' && i + 1 < n &&
        isdigit((unsigned char)s[i + 1])) {
        for (j = i + 1; j < n; j++)
            if (!isalnum((unsigned char)s[j]) && s[j] != '_')
                return 0;
        return 1;
    }
    i = 0;
    if (toupper((unsigned char)s[0]) == 'B')
        i = 1;
    if (i < n && toupper((unsigned char)s[i]) == 'F') {
        i++;
        if (i < n && toupper((unsigned char)s[i]) == 'P')
            i++;
        if (i >= n)
            return 0;
        for (j = i; j < n; j++)
            if (!isdigit((unsigned char)s[j]))
                return 0;
        return 1;
    }
    if (n >= 5 && strncasecmp(s, "MXFP4", 5) == 0) {
        for (j = 5; j < n; j++)
            if (!isalnum((unsigned char)s[j]) && s[j] != '_')
                return 0;
        return 1;
    }
    return 0;
}

int hfv_quant_of(const char *path, char *out, size_t outlen)
{
    const char *base = hfv_basename(path);
    size_t n = strlen(base), plen, i, start, best_s = 0, best_n = 0;
    unsigned part, total;
    if (!hfv_is_gguf(base) || outlen == 0)
        return 0;
    n -= 5;
    if (hfv_split_part(base, &plen, &part, &total))
        n = plen;
    for (start = 0, i = 0; i <= n; i++) {
        if (i == n || base[i] == '.' || base[i] == '-') {
            if (quant_token(base + start, i - start)) {
                best_s = start;
                best_n = i - start;
            }
            start = i + 1;
        }
    }
    if (!best_n || best_n + 1 > outlen)
        return 0;
    for (i = 0; i < best_n; i++)
        out[i] = (char)toupper((unsigned char)base[best_s + i]);
    out[best_n] = '\0';
    return 1;
}

static int parse_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    size_t i;
    if (n == 0 || n > 9)
        return 0;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 1;
}

int hfv_split_part(const char *path, size_t *prefix_len, unsigned *part,
                   unsigned *total)
{
    size_t n = strlen(path), e, d;
    unsigned a, b;
    if (!hfv_is_gguf(path))
        return 0;
    e = n - 5;                       /* end of "...-00001-of-00003" */
    d = e;
    while (d > 0 && isdigit((unsigned char)path[d - 1]))
        d--;
    if (!parse_digits(path + d, e - d, &b) || d < 4 ||
        strncasecmp(path + d - 4, "-of-", 4) != 0)
        return 0;
    e = d - 4;
    d = e;
    while (d > 0 && isdigit((unsigned char)path[d - 1]))
        d--;
    if (!parse_digits(path + d, e - d, &a) || d < 1 || path[d - 1] != '-')
        return 0;
    if (a < 1 || b < 1 || a > b || b > 9999)
        return 0;
    *prefix_len = d - 1;
    *part = a;
    *total = b;
    return 1;
}

size_t hfv_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b), i, j, *row, best;
    if (la > 512 || lb > 512)
        return cap;
    if ((la > lb ? la - lb : lb - la) >= cap)
        return cap;
    if (!(row = malloc((lb + 1) * sizeof *row)))
        return cap;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        best = row[0];
        for (j = 1; j <= lb; j++) {
            size_t up = row[j], v;
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            v = diag + (same ? 0 : 1);
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            diag = up;
            row[j] = v;
            if (v < best)
                best = v;
        }
        if (best >= cap) {
            free(row);
            return cap;
        }
    }
    best = row[lb];
    free(row);
    return best < cap ? best : cap;
}

int hfv_is_weight(const char *path)
{
    static const char *const ext[] = {
        ".gguf", ".ggml", ".safetensors", ".bin", ".pt", ".pth", ".ckpt",
        ".onnx", ".onnx_data", ".h5", ".msgpack", ".tflite", ".ot", ".pb",
        ".npz", ".llamafile", ".mlmodel", ".engine", ".nemo", NULL
    };
    size_t i;
    for (i = 0; ext[i]; i++)
        if (hfv_ends_with_ci(path, ext[i]))
            return 1;
    return 0;
}

int hfv_truthy(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
                 strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

size_t hfv_url_origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    size_t i;
    if (!p || p == url)
        return 0;
    for (i = 0; url + i < p; i++)
        if (!isalpha((unsigned char)url[i]) && url[i] != '+' && url[i] != '-' &&
            url[i] != '.')
            return 0;
    p += 3;
    p += strcspn(p, "/?#");
    return (size_t)(p - url);
}

int hfv_url_host(const char *url, char *out, size_t outlen)
{
    size_t olen = hfv_url_origin_len(url), n;
    const char *a, *end, *at, *h;
    if (!olen || outlen == 0)
        return 0;
    a = strstr(url, "://") + 3;
    end = url + olen;
    for (at = NULL, h = a; h < end; h++)
        if (*h == '@')
            at = h;
    if (at)
        a = at + 1;
    if (*a == '[') {
        const char *rb = memchr(a, ']', (size_t)(end - a));
        if (!rb)
            return 0;
        a++;
        n = (size_t)(rb - a);
    } else {
        const char *colon = memchr(a, ':', (size_t)(end - a));
        n = (size_t)((colon ? colon : end) - a);
    }
    if (n == 0 || n + 1 > outlen)
        return 0;
    for (h = a; h < a + n; h++)
        out[h - a] = (char)tolower((unsigned char)*h);
    out[n] = '\0';
    return 1;
}

char *hfv_url_redact(const char *url)
{
    size_t olen = hfv_url_origin_len(url);
    const char *a, *at = NULL, *h;
    char *out;
    if (!olen)
        return strdup(url);
    a = strstr(url, "://") + 3;
    for (h = a; h < url + olen; h++)
        if (*h == '@')
            at = h;
    if (!at)
        return strdup(url);
    if (!(out = malloc(strlen(url) + 4)))
        return NULL;
    memcpy(out, url, (size_t)(a - url));
    strcpy(out + (a - url), "***");
    strcat(out, at);
    return out;
}
