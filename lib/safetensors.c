/* libartifactprov — bounded safetensors header parser.
 *
 * Layout: u64 little-endian N, then N bytes of JSON: an object mapping
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 * optional "__metadata__" object (ignored).  N above 100 MiB, or beyond
 * the end of the file, is refused before anything is allocated.
 * The precision is the dominant dtype by bytes (ties: by tensor count),
 * lower-cased ("f16", "bf16", "f8_e4m3", ...).
 * The header is read in 64 KiB pieces and fed to yajl's validating event
 * parser (libyajl2); the callbacks keep only what classification needs
 * (dtype counts, the parameter sum, a 64-bit keyed hash per key to refuse
 * duplicates in each object, as JSON_REJECT_DUPLICATES did), never a DOM
 * of the header.  Values of "__metadata__" and unknown members are skipped
 * (nesting at most 64 deep).  What yajl 2.1 accepts and jansson refused is
 * refused here (docs/design-notes.md): lone surrogate escapes (yajl turns
 * them into '?' or a wrong code point) and form feed or vertical tab
 * between tokens, by a scan of the raw bytes for escapes; overlong or
 * surrogate UTF-8, code points beyond U+10FFFF and \u0000, in the string
 * callbacks; integers beyond int64 and reals that overflow a double, from
 * the number's text (yajl's own integer conversion refuses INT64_MIN).
 * SPDX-License-Identifier: MIT */
#include "formats.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yajl/yajl_parse.h>

#define MAX_DTYPES 32
#define MAX_DEPTH 64          /* nesting of values we skip (__metadata__) */
#define RD_BUF 65536u

typedef struct dtype_stat {
    char name[16];
    uint64_t bytes;
    uint64_t count;
} dtype_stat;

/* Duplicate keys: a set of keyed 64-bit hashes (BLAKE2b with a random key
 * per parse, so a collision cannot be crafted), 8 bytes per key rather
 * than the keys themselves. */
typedef struct hset {
    uint64_t *slot;          /* 0 = empty */
    size_t cap, n;
} hset;

/* A block handed to yajl: linked, so that when an allocation fails (yajl
 * 2.1 does not check for NULL) the parse can leave yajl by longjmp and
 * free whatever yajl held. */
typedef union blk {
    struct {
        union blk *prev, *next;
    } l;
    max_align_t align;
} blk;

/* Kinds of value, as yajl reports them. */
enum { K_SCALAR, K_STR, K_NUM, K_MAP, K_ARR };
/* Where the reader stands outside skipped values. */
enum { L_START, L_TOP, L_TENSOR, L_ARRAY, L_DONE };
/* The raw-byte escape scan (esc_scan). */
enum { E_NONE, E_BS, E_HEX, E_WANT_BS, E_WANT_U };

typedef struct ctx {
    apx_error *err;
    int rc;                  /* first error, sticky */
    const char *why;         /* a JSON refusal from a callback, for bad_json */
    uint64_t data_len;
    apx_model_info *info;
    unsigned char hkey[crypto_generichash_KEYBYTES]; /* random, per parse */

    /* escape scan of the raw bytes, across pieces */
    int esc, nhex, low_due, in_str;
    unsigned hexv;

    /* structure */
    int lvl;                 /* L_*, outside skipped values */
    int meta;                /* L_TOP: the next value is "__metadata__"'s */
    unsigned member;         /* L_TENSOR/L_ARRAY: 1 dtype, 2 shape, 4 data_offsets */
    unsigned skip;           /* containers open in the value being skipped */
    int skip_base;           /* the depth of the skipped value itself */
    hset top;                /* tensor names */
    hset tkeys;              /* members of the current tensor */
    hset sk[MAX_DEPTH + 2];  /* keys of open skipped objects, by skip */

    /* the current tensor */
    char name[72];
    unsigned seen;
    char dtype[16];
    size_t dlen;
    uint64_t elems, offs[2], noffs;
    int bad_shape, bad_offs, neg_offs;
    /* the current shape or data_offsets array */
    uint64_t acount, afirst[2], aprod;
    int abad, aneg;

    dtype_stat st[MAX_DTYPES];
    size_t nst;

    blk *blocks;             /* yajl's, live */
    jmp_buf oom;
    unsigned char *buf;      /* the header bytes not yet given to yajl */
    size_t bufsz;            /* RD_BUF, more only for a longer token */
    size_t safe;             /* buf[0, safe) ends between tokens */
} ctx;

static int fail(ctx *c, int status, const char *fmt, ...) AP_PRINTF(3, 4);
static int fail(ctx *c, int status, const char *fmt, ...)
{
    va_list ap;
    if (c->rc)
        return c->rc;
    va_start(ap, fmt);
    apx_error_vset(c->err, status, fmt, ap);
    va_end(ap);
    return c->rc = status;
}

static int bad_json(ctx *c, const char *what, uint64_t at)
{
    return fail(c, AP_ECORRUPT, "safetensors: bad JSON header: %s at byte %llu",
                what, (unsigned long long)at);
}

/* A callback's JSON refusal: recorded, reported with the byte offset once
 * yajl returns; 0 stops yajl. */
static int refuse(ctx *c, const char *what)
{
    if (!c->why && !c->rc)
        c->why = what;
    return 0;
}

/* ---- yajl's memory, through apx_malloc ---- */

static void blk_link(ctx *c, blk *b)
{
    b->l.prev = NULL;
    b->l.next = c->blocks;
    if (c->blocks)
        c->blocks->l.prev = b;
    c->blocks = b;
}

static void blk_unlink(ctx *c, blk *b)
{
    if (b->l.prev)
        b->l.prev->l.next = b->l.next;
    else
        c->blocks = b->l.next;
    if (b->l.next)
        b->l.next->l.prev = b->l.prev;
}

static void *ya_malloc(void *ud, size_t n)
{
    ctx *c = ud;
    blk *b = n <= SIZE_MAX - sizeof *b ? apx_malloc(sizeof *b + n) : NULL;
    if (!b)
        longjmp(c->oom, 1);
    blk_link(c, b);
    return b + 1;
}

static void *ya_realloc(void *ud, void *p, size_t n)
{
    ctx *c = ud;
    blk *b, *nb;
    if (!p)
        return ya_malloc(ud, n);
    b = (blk *)p - 1;
    blk_unlink(c, b);
    nb = n <= SIZE_MAX - sizeof *b ? apx_realloc(b, sizeof *b + n) : NULL;
    if (!nb) {
        blk_link(c, b);
        longjmp(c->oom, 1);
    }
    blk_link(c, nb);
    return nb + 1;
}

static void ya_free(void *ud, void *p)
{
    ctx *c = ud;
    blk *b;
    if (!p)
        return;
    b = (blk *)p - 1;
    blk_unlink(c, b);
    free(b);
}

/* ---- what yajl accepts and the format's readers refuse ---- */

/* Scan raw header bytes for what yajl 2.1 lets through: a \uD800-\uDBFF
 * escape not followed by a \uDC00-\uDFFF one (yajl decodes it to '?', or
 * pairs it with whatever \u escape follows), a lone \uDC00-\uDFFF, and
 * form feed or vertical tab (yajl takes them for whitespace; inside
 * strings it refuses them itself), and a string left open at the end (yajl
 * 2.1 takes an unterminated string after the object for a token still to
 * come, not for trailing garbage).  In JSON yajl accepts, every backslash
 * is in a string and starts or belongs to an escape and every other '"'
 * opens or closes a string, so following them is exact; in anything else
 * yajl refuses the text anyway.  It also notes in c->safe where the bytes
 * scanned so far last end between tokens (parse_header). */
static int esc_scan(ctx *c, size_t from, size_t n, uint64_t at)
{
    const unsigned char *p = c->buf + from;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char b = p[i];
        if (c->esc == E_NONE && !c->in_str && strchr(" \t\n\r,:[]{}", b) && b)
            c->safe = from + i + 1;
        switch (c->esc) {
        case E_NONE:
            if (b == '"') {
                c->in_str = !c->in_str;
                if (!c->in_str)
                    c->safe = from + i + 1; /* a string ends */
            }
            else if (b == '\\')
                c->esc = E_BS;
            else if (b == '\f' || b == '\v')
                return bad_json(c, "form feed or vertical tab", at + i);
            break;
        case E_BS:
            if (b == 'u') {
                c->esc = E_HEX;
                c->nhex = 0;
                c->hexv = 0;
            } else {
                c->esc = E_NONE;
            }
            break;
        case E_HEX:
            if (!isxdigit(b)) {
                c->esc = E_NONE; /* a bad escape: yajl refuses it */
                break;
            }
            c->hexv = c->hexv * 16 +
                      (unsigned)(b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
            if (++c->nhex < 4)
                break;
            c->esc = E_NONE;
            if (c->low_due) {
                if (c->hexv < 0xDC00 || c->hexv > 0xDFFF)
                    return bad_json(c, "lone high surrogate", at + i);
                c->low_due = 0;
            } else if (c->hexv >= 0xDC00 && c->hexv <= 0xDFFF) {
                return bad_json(c, "lone low surrogate", at + i);
            } else if (c->hexv >= 0xD800 && c->hexv <= 0xDBFF) {
                c->low_due = 1;
                c->esc = E_WANT_BS;
            }
            break;
        case E_WANT_BS:
        case E_WANT_U:
            if (b != (c->esc == E_WANT_BS ? '\\' : 'u'))
                return bad_json(c, "lone high surrogate", at + i);
            if (c->esc == E_WANT_BS) {
                c->esc = E_WANT_U;
            } else {
                c->esc = E_HEX;
                c->nhex = 0;
                c->hexv = 0;
            }
            break;
        }
    }
    return AP_OK;
}

/* A decoded string (or key) from yajl: strict UTF-8 (yajl 2.1 checks only
 * the byte pattern: it passes overlong forms, UTF-16 surrogates and code
 * points up to U+1FFFFF) and no NUL (only \u0000 can make one: yajl
 * refuses raw control bytes).  NULL when fine, else the cause. */
static const char *str_check(const unsigned char *s, size_t n)
{
    if (memchr(s, 0, n))
        return "\\u0000 in a string";
    return apx_utf8_valid((const char *)s, n) ? NULL : "invalid UTF-8";
}

/* A real number's text overflows a double (as jansson refused it): judged
 * from its first 40 significant digits and its decimal exponent, so that
 * a number of any length needs no copy. */
static int real_overflows(const char *s, size_t n)
{
    size_t i = 0;
    int nsig = 0;
    long mag = 0, exp = 0, esign = 1; /* value = 0.<sig> x 10^(mag + exp) */
    char sig[48], txt[96];
    double d;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else {
        for (; i < n && isdigit((unsigned char)s[i]); i++) {
            if (nsig < 40)
                sig[nsig++] = s[i];
            if (mag < 1000000)
                mag++;
        }
    }
    if (i < n && s[i] == '.')
        for (i++; i < n && isdigit((unsigned char)s[i]); i++) {
            if (nsig == 0 && s[i] == '0') {
                if (mag > -1000000)
                    mag--;
            } else if (nsig < 40) {
                sig[nsig++] = s[i];
            }
        }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            esign = s[i++] == '-' ? -1 : 1;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            if (exp < 1000000)
                exp = exp * 10 + (s[i] - '0');
    }
    if (!nsig)
        return 0;
    snprintf(txt, sizeof txt, "0.%.*se%ld", nsig, sig, mag + esign * exp);
    errno = 0;
    d = strtod(txt, NULL);
    return (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
}

/* ---- the header's structure ---- */

/* Add hash h; a duplicate is refused, naming the tensor (name) or, for
 * other objects (name NULL), as a JSON error.  0 stops yajl. */
static int hset_add(ctx *c, hset *hs, uint64_t h, const char *name)
{
    size_t i;
    if (h == 0)
        h = 1;
    if (2 * (hs->n + 1) > hs->cap) {
        size_t ncap = hs->cap ? hs->cap * 2 : 16, j;
        uint64_t *ns = apx_calloc(ncap, sizeof *ns);
        if (!ns) {
            fail(c, AP_ENOMEM, "safetensors: out of memory");
            return 0;
        }
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
        if (hs->slot[i] == h) {
            if (name)
                fail(c, AP_ECORRUPT, "safetensors: tensor '%.64s' appears twice "
                     "in the header", name);
            return name ? 0 : refuse(c, "duplicate object key");
        }
    hs->slot[i] = h;
    hs->n++;
    return 1;
}

static void hset_clear(hset *hs)
{
    free(hs->slot);
    memset(hs, 0, sizeof *hs);
}

/* A value (or a container's start) inside a skipped value, or the skipped
 * value itself (c->skip 0, c->skip_base set): only the depth is checked. */
static int skip_event(ctx *c, int kind)
{
    if (c->skip_base + (int)c->skip > MAX_DEPTH)
        return refuse(c, "nested too deep");
    if (kind == K_MAP || kind == K_ARR) {
        c->skip++;
        memset(&c->sk[c->skip], 0, sizeof c->sk[c->skip]);
    }
    return 1;
}

static int skip_value(ctx *c, int kind, int depth)
{
    c->skip_base = depth;
    return skip_event(c, kind);
}

/* The end of a shape or data_offsets value. */
static void array_done(ctx *c)
{
    if (c->member == 2) {
        c->elems = c->aprod;
        c->bad_shape = c->abad;
    } else {
        c->noffs = c->acount;
        c->offs[0] = c->afirst[0];
        c->offs[1] = c->afirst[1];
        c->bad_offs = c->abad;
        c->neg_offs = c->aneg;
    }
}

static void array_item(ctx *c, uint64_t v)
{
    if (c->acount < 2)
        c->afirst[c->acount] = v;
    c->acount++;
    if (v != 0 && c->aprod > UINT64_MAX / v)
        c->aprod = UINT64_MAX;
    else
        c->aprod *= v;
}

/* The end of a tensor descriptor: its checks, then the counts. */
static int tensor_done(ctx *c)
{
    const char *name = c->name;
    apx_model_info *info = c->info;
    dtype_stat *st = c->st;
    size_t k, j;
    if (c->seen != 7 || c->noffs != 2 || (c->bad_offs && !c->neg_offs))
        return fail(c, AP_ECORRUPT, "safetensors: tensor '%.64s' lacks dtype, "
                    "shape or data_offsets", name);
    if (c->neg_offs)
        return fail(c, AP_ECORRUPT, "safetensors: negative data offset");
    if (c->offs[1] < c->offs[0] || c->offs[1] > c->data_len)
        return fail(c, AP_ECORRUPT, "safetensors: tensor '%.64s' data [%llu,%llu)"
                    " outside the %llu data bytes", name,
                    (unsigned long long)c->offs[0], (unsigned long long)c->offs[1],
                    (unsigned long long)c->data_len);
    if (c->bad_shape)
        return fail(c, AP_ECORRUPT, "safetensors: bad shape of '%.64s'", name);
    /* a saturated product or sum is no count: refused, not truncated */
    if (c->elems == UINT64_MAX || info->parameters > UINT64_MAX - 1 - c->elems)
        return fail(c, AP_ECORRUPT, "safetensors: element count of '%.64s'"
                    " overflows", name);
    info->parameters += c->elems;
    if (c->dlen == 0 || c->dlen >= sizeof st[0].name)
        return fail(c, AP_ECORRUPT, "safetensors: bad dtype of '%.64s'", name);
    for (k = 0; k < c->nst; k++)
        if (!strcasecmp(st[k].name, c->dtype))
            break;
    if (k == c->nst) {
        if (c->nst == MAX_DTYPES)
            return fail(c, AP_ECORRUPT, "safetensors: too many dtypes");
        for (j = 0; c->dtype[j]; j++)
            st[k].name[j] = (char)tolower((unsigned char)c->dtype[j]);
        st[k].name[j] = '\0';
        st[k].bytes = st[k].count = 0;
        c->nst++;
    }
    st[k].bytes += c->offs[1] - c->offs[0];
    st[k].count++;
    info->tensor_count++;
    return AP_OK;
}

/* Any value, or the start of a container: where it goes.  For numbers,
 * is_int/neg/v; for strings, s/n.  0 stops yajl. */
static int on_value(ctx *c, int kind, int is_int, int neg, uint64_t v,
                    const unsigned char *s, size_t n)
{
    if (c->skip)
        return skip_event(c, kind);
    switch (c->lvl) {
    case L_START: /* the first byte was '{' */
        c->lvl = L_TOP;
        return 1;
    case L_TOP:
        if (c->meta)
            return skip_value(c, kind, 1);
        if (kind != K_MAP) {
            fail(c, AP_ECORRUPT, "safetensors: tensor '%.64s' lacks dtype, "
                 "shape or data_offsets", c->name);
            return 0;
        }
        c->lvl = L_TENSOR;
        c->seen = 0;
        c->member = 0;
        c->dlen = 0;
        c->dtype[0] = '\0';
        c->elems = 1;
        c->offs[0] = c->offs[1] = c->noffs = 0;
        c->bad_shape = c->bad_offs = c->neg_offs = 0;
        return 1;
    case L_TENSOR:
        if (c->member == 1) {
            if (kind == K_STR) {
                size_t keep = n < sizeof c->dtype ? n : sizeof c->dtype - 1;
                memcpy(c->dtype, s, keep);
                c->dtype[keep] = '\0';
                c->dlen = n;
                return 1;
            }
            c->seen &= ~1u;
            return skip_value(c, kind, 2);
        }
        if (c->member == 2 || c->member == 4) {
            c->acount = 0, c->aprod = 1, c->abad = 0, c->aneg = 0;
            c->afirst[0] = c->afirst[1] = 0;
            if (kind == K_ARR) {
                c->lvl = L_ARRAY;
                return 1;
            }
            c->abad = 1;
            array_done(c);
            return skip_value(c, kind, 1);
        }
        return skip_value(c, kind, 2);
    case L_ARRAY:
        if (kind == K_NUM) {
            if (!is_int)
                c->abad = 1;
            else if (neg && v)
                c->abad = 1, c->aneg = 1;
        } else {
            c->abad = 1, v = 0;
            if (!skip_value(c, kind, 2))
                return 0;
        }
        array_item(c, v);
        return 1;
    default:
        return refuse(c, "trailing bytes after the object");
    }
}

static int cb_null(void *ud)
{
    return on_value(ud, K_SCALAR, 0, 0, 0, NULL, 0);
}

static int cb_bool(void *ud, int b)
{
    return on_value(ud, K_SCALAR, 0, 0, 0, NULL, 0);
}

static int cb_number(void *ud, const char *s, size_t n)
{
    ctx *c = ud;
    size_t i = 0;
    int neg = 0, big = 0, is_int;
    uint64_t v = 0;
    if (i < n && s[i] == '-')
        neg = 1, i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            big = 1;
        else
            v = v * 10 + d;
    }
    is_int = i == n;
    if (is_int && (big || v > (uint64_t)INT64_MAX + (uint64_t)neg))
        return refuse(c, "integer too big");
    if (!is_int && real_overflows(s, n))
        return refuse(c, "real number overflow");
    return on_value(c, K_NUM, is_int, neg, v, NULL, 0);
}

static int cb_string(void *ud, const unsigned char *s, size_t n)
{
    ctx *c = ud;
    const char *why = str_check(s, n);
    if (why)
        return refuse(c, why);
    return on_value(c, K_STR, 0, 0, 0, s, n);
}

static int cb_start_map(void *ud)
{
    return on_value(ud, K_MAP, 0, 0, 0, NULL, 0);
}

static int cb_start_array(void *ud)
{
    return on_value(ud, K_ARR, 0, 0, 0, NULL, 0);
}

static int cb_key(void *ud, const unsigned char *s, size_t n)
{
    ctx *c = ud;
    const char *why = str_check(s, n);
    unsigned char dig[16];
    uint64_t h;
    if (why)
        return refuse(c, why);
    crypto_generichash(dig, sizeof dig, s, n, c->hkey, sizeof c->hkey);
    memcpy(&h, dig, sizeof h);
    if (c->skip)
        return hset_add(c, &c->sk[c->skip], h, NULL);
    if (c->lvl == L_TOP) {
        size_t keep = n < sizeof c->name ? n : sizeof c->name - 1;
        memcpy(c->name, s, keep);
        c->name[keep] = '\0';
        c->meta = n == 12 && !memcmp(s, "__metadata__", 12);
        return hset_add(c, &c->top, h, c->name);
    }
    /* L_TENSOR */
    if (n == 5 && !memcmp(s, "dtype", 5))
        c->member = 1;
    else if (n == 5 && !memcmp(s, "shape", 5))
        c->member = 2;
    else if (n == 12 && !memcmp(s, "data_offsets", 12))
        c->member = 4;
    else
        c->member = 0;
    c->seen |= c->member;
    return hset_add(c, &c->tkeys, h, NULL);
}

static int cb_end_map(void *ud)
{
    ctx *c = ud;
    if (c->skip) {
        hset_clear(&c->sk[c->skip]);
        c->skip--;
        return 1;
    }
    if (c->lvl == L_TENSOR) {
        hset_clear(&c->tkeys);
        c->lvl = L_TOP;
        return tensor_done(c) == AP_OK;
    }
    c->lvl = L_DONE;
    return 1;
}

static int cb_end_array(void *ud)
{
    ctx *c = ud;
    if (c->skip) {
        c->skip--;
        return 1;
    }
    array_done(c);
    c->lvl = L_TENSOR;
    return 1;
}

static const yajl_callbacks callbacks = {
    cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_key, cb_end_map, cb_start_array, cb_end_array,
};

/* yajl's own refusal, quoted (without its trailing newline). */
static void yajl_refusal(ctx *c, yajl_handle h, uint64_t at)
{
    unsigned char *e = yajl_get_error(h, 0, NULL, 0);
    char txt[160];
    size_t n;
    snprintf(txt, sizeof txt, "%s", e ? (const char *)e : "refused");
    if (e)
        yajl_free_error(h, e);
    n = strlen(txt);
    while (n && (txt[n - 1] == '\n' || txt[n - 1] == '.'))
        txt[--n] = '\0';
    bad_json(c, txt, at);
}

/* Feed the header [8, 8 + hlen) to yajl piece by piece. */
static int parse_header(ctx *c, const apx_src *src, uint64_t hlen)
{
    yajl_alloc_funcs af = { ya_malloc, ya_realloc, ya_free, c };
    yajl_handle h = yajl_alloc(&callbacks, &af, c);
    uint64_t pos = 8, end = 8 + hlen, at = 0, base = 8;
    yajl_status ys = yajl_status_ok;
    size_t i, best = 0, have = 0;
    int rc;

    /* yajl 2.1 keeps a token cut by the end of a piece in a buffer, and
     * rescans that buffer from its start with every piece that follows:
     * a 100 MiB string took 45 s in 64 KiB pieces.  So yajl only ever gets
     * whole tokens: a piece is cut where the bytes end between tokens
     * (c->safe), the rest is kept for the next one, and only a token
     * longer than the buffer makes it grow (to at most the header): a
     * string or number costs its length in memory, as it does in yajl's
     * own buffer. */
    while (pos < end || have) {
        size_t feed;
        if (pos < end) {
            uint64_t left = end - pos;
            size_t n;
            if (have == c->bufsz) {
                /* No token ends in the buffer.  Unless it is a string,
                 * its first byte goes to yajl now, which refuses at once
                 * what starts no token (rather than after the buffer has
                 * grown to the header's size) and otherwise holds it for
                 * the rest (one rescan). */
                size_t nsz;
                if (!c->in_str) {
                    ys = yajl_parse(h, c->buf, 1);
                    if (ys != yajl_status_ok)
                        break;
                    memmove(c->buf, c->buf + 1, --have);
                    base++;
                }
                nsz = c->bufsz * 2 > hlen ? (size_t)hlen : c->bufsz * 2;
                unsigned char *nb = apx_realloc(c->buf, nsz);
                if (!nb) {
                    fail(c, AP_ENOMEM, "safetensors: out of memory");
                    break;
                }
                c->buf = nb;
                c->bufsz = nsz;
            }
            n = left < c->bufsz - have ? (size_t)left : c->bufsz - have;
            if ((rc = apx_src_pread(src, pos, c->buf + have, n)) != AP_OK) {
                fail(c, rc, "safetensors: cannot read header");
                break;
            }
            if (esc_scan(c, have, n, pos - 8) != AP_OK)
                break;
            pos += n;
            have += n;
        }
        feed = pos == end ? have : c->safe;
        if (feed) {
            ys = yajl_parse(h, c->buf, feed);
            if (ys != yajl_status_ok)
                break;
            memmove(c->buf, c->buf + feed, have - feed);
            have -= feed;
            base += feed;
            c->safe = 0;
        }
        if (pos == end)
            break;
    }
    if (!c->rc && ys == yajl_status_ok && (c->in_str || c->esc != E_NONE))
        bad_json(c, "unterminated string", hlen);
    if (!c->rc && ys == yajl_status_ok) {
        ys = yajl_complete_parse(h);
        at = hlen; /* what is missing is missing at the end */
    } else if (!c->rc) {
        at = base - 8 + yajl_get_bytes_consumed(h);
    }
    if (!c->rc && ys != yajl_status_ok) {
        if (c->why)
            bad_json(c, c->why, at);
        else
            yajl_refusal(c, h, at);
    }
    yajl_free(h);
    if (c->rc)
        return c->rc;
    for (i = 1; i < c->nst; i++)
        if (c->st[i].bytes > c->st[best].bytes ||
            (c->st[i].bytes == c->st[best].bytes && c->st[i].count > c->st[best].count))
            best = i;
    if (c->nst)
        snprintf(c->info->precision, sizeof c->info->precision, "%s",
                 c->st[best].name);
    return AP_OK;
}

static void ctx_free(ctx *c)
{
    unsigned k;
    hset_clear(&c->top);
    hset_clear(&c->tkeys);
    for (k = 1; k <= c->skip; k++)
        hset_clear(&c->sk[k]);
    while (c->blocks) {
        blk *b = c->blocks;
        blk_unlink(c, b);
        free(b);
    }
    free(c->buf);
    free(c);
}

/* yajl does not check its allocations: ya_malloc and ya_realloc come back
 * here instead of returning NULL, and ctx_free frees yajl's blocks. */
static int run(ctx *c, const apx_src *src, uint64_t hlen)
{
    if (setjmp(c->oom))
        return fail(c, AP_ENOMEM, "safetensors: out of memory");
    return parse_header(c, src, hlen);
}

int apx_safetensors_parse(const apx_src *src, apx_model_info *info,
                          apx_error *err)
{
    unsigned char lenb[8];
    uint64_t n = 0;
    ctx *c;
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
    if ((rc = apx_src_pread(src, 8, lenb, 1)) != AP_OK)
        return apx_error_set(err, rc, "safetensors: cannot read header");
    if (lenb[0] != '{')
        return apx_error_set(err, AP_ECORRUPT,
                             "safetensors: header does not start with '{'");
    if (!(c = apx_calloc(1, sizeof *c)))
        return apx_error_set(err, AP_ENOMEM, "safetensors: out of memory");
    c->bufsz = n < RD_BUF ? (size_t)n : RD_BUF;
    if (!(c->buf = apx_malloc(c->bufsz))) {
        free(c);
        return apx_error_set(err, AP_ENOMEM, "safetensors: out of memory");
    }
    c->err = err;
    c->info = info;
    c->data_len = src->len - 8 - n;
    randombytes_buf(c->hkey, sizeof c->hkey);
    strcpy(info->format, "safetensors");
    info->header_bytes = 8 + n;
    rc = run(c, src, n);
    ctx_free(c);
    return rc;
}
