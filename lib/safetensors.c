/* libartifactprov — bounded safetensors header parser.
 *
 * Layout: u64 little-endian N, then N bytes of JSON: an object mapping
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 * optional "__metadata__" object (ignored).  N above 100 MiB, or beyond
 * the end of the file, is refused before anything is allocated.
 * The precision is the dominant dtype by bytes (ties: by tensor count),
 * lower-cased ("f16", "bf16", "f8_e4m3", ...).
 * The header is read in 64 KiB pieces by a validating streaming JSON
 * reader that keeps only what classification needs (dtype counts, the
 * parameter sum, a 64-bit keyed hash per key to refuse duplicates in each
 * object, as JSON_REJECT_DUPLICATES did): memory stays a fixed 64 KiB plus
 * 16 bytes per tensor, never a DOM of the header (which took about 15x the
 * header's size with jansson).  Values of
 * "__metadata__" and unknown members are validated and skipped, nesting at
 * most 64 deep.
 * SPDX-License-Identifier: MIT */
#include "formats.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DTYPES 32
#define MAX_DEPTH 64          /* nesting of values we skip (__metadata__) */
#define RD_BUF 65536u

typedef struct dtype_stat {
    char name[16];
    uint64_t bytes;
    uint64_t count;
} dtype_stat;

/* A streaming JSON reader over the header bytes [pos, end) of the source:
 * one fixed buffer, nothing of the header's size is ever allocated. */
typedef struct rd {
    const apx_src *src;
    uint64_t pos, end;       /* next byte to read; end of the header */
    uint64_t boff;           /* source offset of buf[0] */
    size_t blen;
    apx_error *err;
    int rc;                  /* first error, sticky */
    unsigned char hkey[crypto_generichash_KEYBYTES]; /* random, per parse */
    unsigned char buf[RD_BUF];
} rd;

/* Duplicate tensor names: a set of keyed 64-bit hashes (BLAKE2b with a
 * random key per parse, so a collision cannot be crafted), 8 bytes per
 * tensor rather than the names themselves. */
typedef struct hset {
    uint64_t *slot;          /* 0 = empty */
    size_t cap, n;
} hset;

static int fail(rd *r, int status, const char *fmt, ...) AP_PRINTF(3, 4);
static int fail(rd *r, int status, const char *fmt, ...)
{
    va_list ap;
    if (r->rc)
        return r->rc;
    va_start(ap, fmt);
    apx_error_vset(r->err, status, fmt, ap);
    va_end(ap);
    return r->rc = status;
}

static int bad_json(rd *r, const char *what)
{
    return fail(r, AP_ECORRUPT, "safetensors: bad JSON header: %s at byte %llu",
                what, (unsigned long long)(r->pos - 8));
}

/* Next byte without consuming it; -1 at the end of the header or on error. */
static int peek(rd *r)
{
    if (r->rc)
        return -1;
    if (r->pos >= r->end)
        return -1;
    if (r->pos < r->boff || r->pos >= r->boff + r->blen) {
        uint64_t left = r->end - r->pos;
        size_t n = left < RD_BUF ? (size_t)left : RD_BUF;
        int rc = apx_src_pread(r->src, r->pos, r->buf, n);
        if (rc != AP_OK) {
            fail(r, rc, "safetensors: cannot read header");
            return -1;
        }
        r->boff = r->pos;
        r->blen = n;
    }
    return r->buf[r->pos - r->boff];
}

static int next(rd *r)
{
    int c = peek(r);
    if (c >= 0)
        r->pos++;
    return c;
}

static int ws(rd *r)
{
    int c;
    while ((c = peek(r)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        r->pos++;
    return c;
}

static int expect(rd *r, int want, const char *what)
{
    if (ws(r) != want)
        return bad_json(r, what);
    r->pos++;
    return AP_OK;
}

static int hex4(rd *r, unsigned *out)
{
    unsigned v = 0;
    int i, c;
    for (i = 0; i < 4; i++) {
        c = next(r);
        if (c >= '0' && c <= '9')
            v = v * 16 + (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v = v * 16 + (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v = v * 16 + (unsigned)(c - 'A' + 10);
        else
            return bad_json(r, "bad \\u escape");
    }
    *out = v;
    return AP_OK;
}

/* Emit decoded byte b: into out (kept up to outsz-1 bytes, *len counts
 * all) and into the hash state when given. */
static void emit(unsigned char b, char *out, size_t outsz, size_t *len,
                 crypto_generichash_state *h)
{
    if (out && *len + 1 < outsz)
        out[*len] = (char)b;
    (*len)++;
    if (h)
        crypto_generichash_update(h, &b, 1);
}

/* A JSON string (the opening quote is next): validated (escapes, UTF-8,
 * no control bytes, no \u0000) and decoded; the first outsz-1 bytes are
 * kept in out (NUL-terminated), the whole is fed to h; *len = decoded
 * length.  Strings of any length cost no memory. */
static int string(rd *r, char *out, size_t outsz, size_t *len,
                  crypto_generichash_state *h)
{
    unsigned need = 0, cp_min = 0;
    unsigned long cp = 0;
    size_t n = 0;
    int c;
    if (ws(r) != '"')
        return bad_json(r, "string expected");
    r->pos++;
    for (;;) {
        c = next(r);
        if (c < 0)
            return r->rc ? r->rc : bad_json(r, "unterminated string");
        if (need) {
            if ((c & 0xC0) != 0x80)
                return bad_json(r, "invalid UTF-8");
            cp = (cp << 6) | (unsigned)(c & 0x3F);
            emit((unsigned char)c, out, outsz, &n, h);
            if (--need == 0 &&
                (cp < cp_min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)))
                return bad_json(r, "invalid UTF-8");
            continue;
        }
        if (c == '"')
            break;
        if (c < 0x20)
            return bad_json(r, "control character in a string");
        if (c == '\\') {
            unsigned u, lo;
            unsigned char e[4];
            int k, ne;
            c = next(r);
            switch (c) {
            case '"': case '\\': case '/':
                emit((unsigned char)c, out, outsz, &n, h);
                continue;
            case 'b': emit('\b', out, outsz, &n, h); continue;
            case 'f': emit('\f', out, outsz, &n, h); continue;
            case 'n': emit('\n', out, outsz, &n, h); continue;
            case 'r': emit('\r', out, outsz, &n, h); continue;
            case 't': emit('\t', out, outsz, &n, h); continue;
            case 'u':
                break;
            default:
                return bad_json(r, "bad escape");
            }
            if (hex4(r, &u))
                return r->rc;
            if (u >= 0xDC00 && u <= 0xDFFF)
                return bad_json(r, "lone low surrogate");
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (next(r) != '\\' || next(r) != 'u' || hex4(r, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return r->rc ? r->rc : bad_json(r, "lone high surrogate");
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (u == 0)
                return bad_json(r, "\\u0000 in a string");
            if (u < 0x80) {
                e[0] = (unsigned char)u, ne = 1;
            } else if (u < 0x800) {
                e[0] = (unsigned char)(0xC0 | (u >> 6));
                e[1] = (unsigned char)(0x80 | (u & 0x3F)), ne = 2;
            } else if (u < 0x10000) {
                e[0] = (unsigned char)(0xE0 | (u >> 12));
                e[1] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                e[2] = (unsigned char)(0x80 | (u & 0x3F)), ne = 3;
            } else {
                e[0] = (unsigned char)(0xF0 | (u >> 18));
                e[1] = (unsigned char)(0x80 | ((u >> 12) & 0x3F));
                e[2] = (unsigned char)(0x80 | ((u >> 6) & 0x3F));
                e[3] = (unsigned char)(0x80 | (u & 0x3F)), ne = 4;
            }
            for (k = 0; k < ne; k++)
                emit(e[k], out, outsz, &n, h);
            continue;
        }
        if (c < 0x80) {
            emit((unsigned char)c, out, outsz, &n, h);
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            need = 1, cp = (unsigned)(c & 0x1F), cp_min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            need = 2, cp = (unsigned)(c & 0x0F), cp_min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            need = 3, cp = (unsigned)(c & 0x07), cp_min = 0x10000;
        else
            return bad_json(r, "invalid UTF-8");
        emit((unsigned char)c, out, outsz, &n, h);
    }
    if (out && outsz)
        out[n < outsz ? n : outsz - 1] = '\0';
    if (len)
        *len = n;
    return AP_OK;
}

/* A JSON number.  *is_int: it has no fraction or exponent; then *neg and
 * *v (*big when beyond int64, which jansson refused too).  A real that
 * overflows a double is refused as jansson did; it is judged from its
 * first 40 significant digits and its decimal exponent, so a number of any
 * length costs no memory. */
static int number(rd *r, int *is_int, int *neg, uint64_t *v, int *big)
{
    int c = ws(r), digits = 0, nsig = 0;
    long mag = 0, exp = 0, esign = 1; /* value = 0.<sig> x 10^(mag + exp) */
    char sig[48];
    *is_int = 1, *neg = 0, *v = 0, *big = 0;
    if (c == '-') {
        *neg = 1;
        r->pos++;
        c = peek(r);
    }
    if (c == '0') {
        r->pos++;
        digits = 1;
    } else {
        while ((c = peek(r)) >= '0' && c <= '9') {
            unsigned d = (unsigned)(c - '0');
            if (*v > (UINT64_MAX - d) / 10)
                *big = 1;
            else
                *v = *v * 10 + d;
            if (nsig < 40)
                sig[nsig++] = (char)c;
            if (mag < 1000000)
                mag++;
            r->pos++;
            digits++;
        }
    }
    if (!digits)
        return r->rc ? r->rc : bad_json(r, "bad number");
    if (peek(r) == '.') {
        r->pos++;
        *is_int = 0;
        if (!((c = peek(r)) >= '0' && c <= '9'))
            return r->rc ? r->rc : bad_json(r, "bad number");
        while ((c = peek(r)) >= '0' && c <= '9') {
            if (nsig == 0 && c == '0') {
                if (mag > -1000000)
                    mag--;
            } else if (nsig < 40) {
                sig[nsig++] = (char)c;
            }
            r->pos++;
        }
    }
    if ((c = peek(r)) == 'e' || c == 'E') {
        r->pos++;
        *is_int = 0;
        if ((c = peek(r)) == '+' || c == '-') {
            esign = c == '-' ? -1 : 1;
            r->pos++;
        }
        if (!((c = peek(r)) >= '0' && c <= '9'))
            return r->rc ? r->rc : bad_json(r, "bad number");
        while ((c = peek(r)) >= '0' && c <= '9') {
            if (exp < 1000000)
                exp = exp * 10 + (c - '0');
            r->pos++;
        }
    }
    if (r->rc)
        return r->rc;
    if (*is_int && *v > (uint64_t)INT64_MAX + (uint64_t)*neg)
        *big = 1;
    if (*is_int && *big)
        return bad_json(r, "integer too big");
    if (!*is_int && nsig) {
        char txt[96];
        double d;
        snprintf(txt, sizeof txt, "0.%.*se%ld", nsig, sig, mag + esign * exp);
        errno = 0;
        d = strtod(txt, NULL);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE)
            return bad_json(r, "real number overflow");
    }
    return AP_OK;
}

static int hset_add(rd *r, hset *hs, uint64_t h, const char *name);

/* A key string, hashed with the parse's key into *hv. */
static int key_string(rd *r, char *out, size_t outsz, size_t *len, uint64_t *hv)
{
    crypto_generichash_state h;
    unsigned char dig[16];
    crypto_generichash_init(&h, r->hkey, sizeof r->hkey, sizeof dig);
    if (string(r, out, outsz, len, &h))
        return r->rc;
    crypto_generichash_final(&h, dig, sizeof dig);
    memcpy(hv, dig, sizeof *hv);
    return AP_OK;
}

static int literal(rd *r, const char *word)
{
    for (; *word; word++)
        if (next(r) != *word)
            return r->rc ? r->rc : bad_json(r, "bad literal");
    return AP_OK;
}

/* Validate and discard one value of any kind, nesting at most MAX_DEPTH. */
static int skip_value(rd *r, int depth)
{
    int c = ws(r), a, b, d;
    uint64_t v;
    if (depth > MAX_DEPTH)
        return bad_json(r, "nested too deep");
    switch (c) {
    case '"':
        return string(r, NULL, 0, NULL, NULL);
    case 't': return literal(r, "true");
    case 'f': return literal(r, "false");
    case 'n': return literal(r, "null");
    case '{': {
        /* keys are checked for duplicates, as JSON_REJECT_DUPLICATES did */
        hset keys;
        char kname[72];
        uint64_t hv = 0;
        memset(&keys, 0, sizeof keys);
        r->pos++;
        if (ws(r) == '}') {
            r->pos++;
            return AP_OK;
        }
        for (;;) {
            if (key_string(r, kname, sizeof kname, NULL, &hv) ||
                hset_add(r, &keys, hv, NULL) || expect(r, ':', "':' expected") ||
                skip_value(r, depth + 1))
                break;
            c = ws(r);
            r->pos++;
            if (c == '}')
                break;
            if (c != ',') {
                if (!r->rc)
                    bad_json(r, "',' or '}' expected");
                break;
            }
        }
        free(keys.slot);
        return r->rc;
    }
    case '[':
        r->pos++;
        if (ws(r) == ']') {
            r->pos++;
            return AP_OK;
        }
        for (;;) {
            if (skip_value(r, depth + 1))
                return r->rc;
            c = ws(r);
            r->pos++;
            if (c == ']')
                return AP_OK;
            if (c != ',')
                return r->rc ? r->rc : bad_json(r, "',' or ']' expected");
        }
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return number(r, &a, &b, &v, &d);
        return r->rc ? r->rc : bad_json(r, "value expected");
    }
}

/* An array of non-negative integers: count and, when given, the first two
 * values and the saturated product.  *shape_bad: an item is not a
 * non-negative integer (the JSON itself is still validated). */
static int int_array(rd *r, uint64_t *count, uint64_t first[2],
                     uint64_t *product, int *bad, int *negative)
{
    int c, is_int, neg, big;
    uint64_t v;
    *count = 0, *product = 1, *bad = 0, *negative = 0;
    first[0] = first[1] = 0;
    if (ws(r) != '[') {
        *bad = 1;
        return skip_value(r, 1);
    }
    r->pos++;
    if (ws(r) == ']') {
        r->pos++;
        return AP_OK;
    }
    for (;;) {
        c = ws(r);
        if (c == '-' || (c >= '0' && c <= '9')) {
            if (number(r, &is_int, &neg, &v, &big))
                return r->rc;
            if (!is_int)
                *bad = 1;
            else if (neg && v)
                *bad = 1, *negative = 1;
        } else {
            if (skip_value(r, 2))
                return r->rc;
            *bad = 1, v = 0;
        }
        if (*count < 2)
            first[*count] = v;
        (*count)++;
        if (v != 0 && *product > UINT64_MAX / v)
            *product = UINT64_MAX;
        else
            *product *= v;
        c = ws(r);
        r->pos++;
        if (c == ']')
            return AP_OK;
        if (c != ',')
            return r->rc ? r->rc : bad_json(r, "',' or ']' expected");
    }
}

/* Add hash h; a duplicate is refused, naming the tensor (name) or, for
 * other objects (name NULL), the byte offset. */
static int hset_add(rd *r, hset *hs, uint64_t h, const char *name)
{
    size_t i;
    if (h == 0)
        h = 1;
    if (2 * (hs->n + 1) > hs->cap) {
        size_t ncap = hs->cap ? hs->cap * 2 : 16, j;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return fail(r, AP_ENOMEM, "safetensors: out of memory");
        for (j = 0; j < hs->cap; j++)
            if (hs->slot[j]) {
                size_t k = (size_t)hs->slot[j] & (ncap - 1);
                while (ns[k])
                    k = (k + 1) & (ncap - 1);
                ns[k] = hs->slot[j];
            }
        free(hs->slot);
        hs->slot = ns;
        hs->cap = ncap;
    }
    for (i = (size_t)h & (hs->cap - 1); hs->slot[i]; i = (i + 1) & (hs->cap - 1))
        if (hs->slot[i] == h)
            return name ? fail(r, AP_ECORRUPT, "safetensors: tensor '%.64s' "
                               "appears twice in the header", name)
                        : bad_json(r, "duplicate object key");
    hs->slot[i] = h;
    hs->n++;
    return AP_OK;
}

/* One tensor descriptor {"dtype", "shape", "data_offsets", ...}; keys
 * collects its member names (duplicates refused). */
static int tensor_in(rd *r, const char *name, uint64_t data_len,
                     apx_model_info *info, dtype_stat *st, size_t *nst,
                     hset *keys)
{
    char key[16], dtype[16];
    size_t klen, dlen = 0, k, j;
    unsigned seen = 0;
    uint64_t elems = 1, offs[2] = { 0, 0 }, noffs = 0, cnt, tmp[2], prod;
    int bad_shape = 0, bad_offs = 0, neg_offs = 0, neg, c;

    if (ws(r) != '{') {
        if (skip_value(r, 1))
            return r->rc;
        return fail(r, AP_ECORRUPT, "safetensors: tensor '%.64s' lacks dtype, "
                    "shape or data_offsets", name);
    }
    r->pos++;
    if (ws(r) != '}') {
        for (;;) {
            unsigned bit = 0;
            uint64_t hv = 0;
            if (key_string(r, key, sizeof key, &klen, &hv) ||
                hset_add(r, keys, hv, NULL) || expect(r, ':', "':' expected"))
                return r->rc;
            if (klen == 5 && !memcmp(key, "dtype", 5))
                bit = 1;
            else if (klen == 5 && !memcmp(key, "shape", 5))
                bit = 2;
            else if (klen == 12 && !memcmp(key, "data_offsets", 12))
                bit = 4;
            if (bit & seen)
                return fail(r, AP_ECORRUPT, "safetensors: tensor '%.64s' has "
                            "'%s' twice", name, key);
            seen |= bit;
            if (bit == 1) {
                if (ws(r) == '"') {
                    if (string(r, dtype, sizeof dtype, &dlen, NULL))
                        return r->rc;
                } else {
                    if (skip_value(r, 2))
                        return r->rc;
                    seen &= ~1u;
                }
            } else if (bit == 2) {
                if (int_array(r, &cnt, tmp, &prod, &bad_shape, &neg))
                    return r->rc;
                elems = prod;
            } else if (bit == 4) {
                if (int_array(r, &noffs, offs, &prod, &bad_offs, &neg_offs))
                    return r->rc;
            } else if (skip_value(r, 2)) {
                return r->rc;
            }
            c = ws(r);
            r->pos++;
            if (c == '}')
                break;
            if (c != ',')
                return r->rc ? r->rc : bad_json(r, "',' or '}' expected");
        }
    } else {
        r->pos++;
    }
    if (seen != 7 || noffs != 2 || (bad_offs && !neg_offs))
        return fail(r, AP_ECORRUPT, "safetensors: tensor '%.64s' lacks dtype, "
                    "shape or data_offsets", name);
    if (neg_offs)
        return fail(r, AP_ECORRUPT, "safetensors: negative data offset");
    if (offs[1] < offs[0] || offs[1] > data_len)
        return fail(r, AP_ECORRUPT, "safetensors: tensor '%.64s' data [%llu,%llu)"
                    " outside the %llu data bytes", name,
                    (unsigned long long)offs[0], (unsigned long long)offs[1],
                    (unsigned long long)data_len);
    if (bad_shape)
        return fail(r, AP_ECORRUPT, "safetensors: bad shape of '%.64s'", name);
    /* a saturated product or sum is no count: refused, not truncated */
    if (elems == UINT64_MAX || info->parameters > UINT64_MAX - 1 - elems)
        return fail(r, AP_ECORRUPT, "safetensors: element count of '%.64s'"
                    " overflows", name);
    info->parameters += elems;
    if (dlen == 0 || dlen >= sizeof st[0].name)
        return fail(r, AP_ECORRUPT, "safetensors: bad dtype of '%.64s'", name);
    for (k = 0; k < *nst; k++)
        if (!strcasecmp(st[k].name, dtype))
            break;
    if (k == *nst) {
        if (*nst == MAX_DTYPES)
            return fail(r, AP_ECORRUPT, "safetensors: too many dtypes");
        for (j = 0; dtype[j]; j++)
            st[k].name[j] = (char)tolower((unsigned char)dtype[j]);
        st[k].name[j] = '\0';
        st[k].bytes = st[k].count = 0;
        (*nst)++;
    }
    st[k].bytes += offs[1] - offs[0];
    st[k].count++;
    info->tensor_count++;
    return AP_OK;
}

static int tensor(rd *r, const char *name, uint64_t data_len,
                  apx_model_info *info, dtype_stat *st, size_t *nst)
{
    hset keys;
    int rc;
    memset(&keys, 0, sizeof keys);
    rc = tensor_in(r, name, data_len, info, st, nst, &keys);
    free(keys.slot);
    return rc;
}

/* The header: one object of tensor descriptors plus "__metadata__",
 * then only whitespace (the format pads with spaces). */
static int parse_header(rd *r, uint64_t data_len, apx_model_info *info)
{
    dtype_stat st[MAX_DTYPES];
    size_t nst = 0, i, best = 0, nlen;
    char name[72];
    hset hs;
    int c, rc;

    memset(&hs, 0, sizeof hs);
    if (ws(r) != '{')
        return r->rc ? r->rc
                     : fail(r, AP_ECORRUPT, "safetensors: header is not a JSON object");
    r->pos++;
    if (ws(r) == '}') {
        r->pos++;
    } else {
        for (;;) {
            uint64_t hv = 0;
            if (key_string(r, name, sizeof name, &nlen, &hv) ||
                expect(r, ':', "':' expected") || hset_add(r, &hs, hv, name))
                break;
            if (nlen == 12 && !memcmp(name, "__metadata__", 12)) {
                if (skip_value(r, 1))
                    break;
            } else if (tensor(r, name, data_len, info, st, &nst)) {
                break;
            }
            c = ws(r);
            r->pos++;
            if (c == '}')
                break;
            if (c != ',') {
                if (!r->rc)
                    bad_json(r, "',' or '}' expected");
                break;
            }
        }
    }
    free(hs.slot);
    if (r->rc)
        return r->rc;
    if (ws(r) >= 0)
        return bad_json(r, "trailing bytes after the object");
    if ((rc = r->rc))
        return rc;
    for (i = 1; i < nst; i++)
        if (st[i].bytes > st[best].bytes ||
            (st[i].bytes == st[best].bytes && st[i].count > st[best].count))
            best = i;
    if (nst)
        snprintf(info->precision, sizeof info->precision, "%s", st[best].name);
    return AP_OK;
}

int apx_safetensors_parse(const apx_src *src, apx_model_info *info,
                          apx_error *err)
{
    unsigned char lenb[8];
    uint64_t n = 0;
    rd *r;
    int rc, i;

    memset(info, 0, sizeof *info);
    info->file_type = -1;
    if (apx_src_pread(src, 0, lenb, 8) != AP_OK)
        return apx_error_set(err, AP_ECORRUPT, "safetensors: truncated");
    for (i = 7; i >= 0; i--)
        n = (n << 8) | lenb[i];
    if (n < 2 || n > APX_ST_MAX_HEADER)
        return apx_error_set(err, AP_ECORRUPT,
                             "safetensors: header length %llu out of range",
                             (unsigned long long)n);
    if (n > src->len - 8)
        return apx_error_set(err, AP_ECORRUPT,
                             "safetensors: header of %llu bytes beyond the end"
                             " of the file", (unsigned long long)n);
    if (apx_sodium_ready() != 0)
        return apx_error_set(err, AP_ERROR, "safetensors: libsodium unusable");
    if (!(r = malloc(sizeof *r)))
        return apx_error_set(err, AP_ENOMEM, "safetensors: out of memory");
    r->src = src;
    r->pos = 8;
    r->end = 8 + n;
    r->boff = 0;
    r->blen = 0;
    r->err = err;
    r->rc = AP_OK;
    randombytes_buf(r->hkey, sizeof r->hkey);
    if (peek(r) != '{') {
        rc = r->rc ? r->rc
                   : apx_error_set(err, AP_ECORRUPT,
                                   "safetensors: header does not start with '{'");
        free(r);
        return rc;
    }
    strcpy(info->format, "safetensors");
    info->header_bytes = 8 + n;
    rc = parse_header(r, src->len - 8 - n, info);
    free(r);
    return rc;
}
