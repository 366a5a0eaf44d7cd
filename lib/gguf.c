/* libartifactprov — bounded GGUF header parser.
 *
 * Reads the fixed header (magic "GGUF", u32 version, u64 tensor_count,
 * u64 kv_count), walks the key-value section and the tensor infos without
 * ever allocating more than a small fixed buffer.  What it keeps is
 * bounded (general.architecture, general.name: truncated to their
 * buffers; general.file_type, general.parameter_count: integers); what it
 * does not keep is skipped whatever its size: a string of any length in
 * one step, an array of fixed-size items in one step, an array of strings
 * or arrays item by item.  Every count is checked against the bytes left
 * in the file before it is walked (an item takes at least 8 bytes, a
 * key-value 13, a tensor info 24), and at most APX_GGUF_MAX_ITEMS items
 * are walked one by one, so a hostile header costs time and memory bounded
 * by the file size and a constant.  The parameter count is
 * general.parameter_count, else the sum over the tensor infos of the
 * product of their dimensions (overflow: AP_ECORRUPT).
 * SPDX-License-Identifier: MIT */
#include "formats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    GT_U8 = 0, GT_I8 = 1, GT_U16 = 2, GT_I16 = 3, GT_U32 = 4, GT_I32 = 5,
    GT_F32 = 6, GT_BOOL = 7, GT_STRING = 8, GT_ARRAY = 9, GT_U64 = 10,
    GT_I64 = 11, GT_F64 = 12
};

#define CUR_BUF 65536u
#define MAX_NESTING 4

typedef struct cur {
    const apx_src *src;
    uint64_t off;
    uint64_t limit;          /* the source length */
    uint64_t items;          /* array items walked one by one */
    uint64_t boff;           /* file offset of buf[0] (fd sources) */
    size_t blen;
    apx_error *err;
    unsigned char buf[CUR_BUF];
} cur;

int apx_src_pread(const apx_src *src, uint64_t off, void *buf, size_t n)
{
    unsigned char *p = buf;
    if (off > src->len || n > src->len - off)
        return AP_ECORRUPT;
    if (src->mem) {
        memcpy(buf, src->mem + off, n);
        return AP_OK;
    }
    while (n > 0) {
        ssize_t r = pread(src->fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return AP_EIO;
        }
        if (r == 0)
            return AP_ECORRUPT;
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return AP_OK;
}

static int bounds(cur *c, uint64_t n)
{
    if (n > c->limit || c->off > c->limit - n) {
        return apx_error_set(c->err, AP_ECORRUPT,
                             "gguf: truncated header at offset %llu",
                             (unsigned long long)c->off);
    }
    return AP_OK;
}

static int cur_read(cur *c, void *out, size_t n)
{
    int rc = bounds(c, n);
    if (rc)
        return rc;
    if (c->src->mem) {
        memcpy(out, c->src->mem + c->off, n);
    } else {
        if (c->off < c->boff || c->off + n > c->boff + c->blen) {
            uint64_t want = c->src->len - c->off;
            if (want > CUR_BUF)
                want = CUR_BUF;
            if (want < n)
                return apx_error_set(c->err, AP_ECORRUPT, "gguf: truncated");
            rc = apx_src_pread(c->src, c->off, c->buf, (size_t)want);
            if (rc)
                return apx_error_set(c->err, rc, "gguf: read failed at %llu",
                                     (unsigned long long)c->off);
            c->boff = c->off;
            c->blen = (size_t)want;
        }
        memcpy(out, c->buf + (c->off - c->boff), n);
    }
    c->off += n;
    return AP_OK;
}

static int cur_skip(cur *c, uint64_t n)
{
    int rc = bounds(c, n);
    if (rc)
        return rc;
    c->off += n;
    return AP_OK;
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static int rd_u32(cur *c, uint32_t *v)
{
    unsigned char b[4];
    int rc = cur_read(c, b, 4);
    if (!rc)
        *v = le32(b);
    return rc;
}

static int rd_u64(cur *c, uint64_t *v)
{
    unsigned char b[8];
    int rc = cur_read(c, b, 8);
    if (!rc)
        *v = le64(b);
    return rc;
}

static uint64_t left(const cur *c)
{
    return c->off < c->limit ? c->limit - c->off : 0;
}

/* Read a string length: any length the file holds. */
static int rd_strlen(cur *c, uint64_t *len)
{
    int rc = rd_u64(c, len);
    if (rc)
        return rc;
    if (*len > left(c))
        return apx_error_set(c->err, AP_ECORRUPT,
                             "gguf: string of %llu bytes at offset %llu runs"
                             " past the end of the file",
                             (unsigned long long)*len,
                             (unsigned long long)c->off);
    return AP_OK;
}

/* Read a string into out (cap bytes incl. NUL, truncating) or skip it. */
static int rd_string(cur *c, char *out, size_t cap)
{
    uint64_t len;
    size_t take;
    int rc = rd_strlen(c, &len);
    if (rc)
        return rc;
    if (!out)
        return cur_skip(c, len);
    take = len < cap - 1 ? (size_t)len : cap - 1;
    if ((rc = cur_read(c, out, take)) != AP_OK)
        return rc;
    out[take] = '\0';
    return cur_skip(c, len - take);
}

static size_t scalar_size(uint32_t type)
{
    switch (type) {
    case GT_U8: case GT_I8: case GT_BOOL: return 1;
    case GT_U16: case GT_I16: return 2;
    case GT_U32: case GT_I32: case GT_F32: return 4;
    case GT_U64: case GT_I64: case GT_F64: return 8;
    default: return 0;
    }
}

static int skip_value(cur *c, uint32_t type, int depth)
{
    size_t sz = scalar_size(type);
    if (sz)
        return cur_skip(c, sz);
    if (type == GT_STRING)
        return rd_string(c, NULL, 0);
    if (type == GT_ARRAY) {
        uint32_t itype;
        uint64_t count, i;
        int rc;
        if (depth >= MAX_NESTING)
            return apx_error_set(c->err, AP_ECORRUPT,
                                 "gguf: arrays nested too deep");
        if ((rc = rd_u32(c, &itype)) || (rc = rd_u64(c, &count)))
            return rc;
        sz = scalar_size(itype);
        if (!sz && itype != GT_STRING && itype != GT_ARRAY)
            return apx_error_set(c->err, AP_ECORRUPT,
                                 "gguf: unknown array item type %u", itype);
        /* The smallest an item can be: a string is a u64 length, an
         * array a u32 type and a u64 count.  More items than the rest of
         * the file can hold is corrupt, refused before walking any (and
         * count * sz cannot overflow past this check). */
        if (count > left(c) / (sz ? sz : itype == GT_STRING ? 8 : 12))
            return apx_error_set(c->err, AP_ECORRUPT,
                                 "gguf: array of %llu items runs past the end"
                                 " of the file", (unsigned long long)count);
        if (sz)
            return cur_skip(c, count * sz);
        if (count > APX_GGUF_MAX_ITEMS - c->items)
            return apx_error_set(c->err, AP_ECORRUPT,
                                 "gguf: more than %u array items to walk",
                                 APX_GGUF_MAX_ITEMS);
        c->items += count;
        for (i = 0; i < count; i++)
            if ((rc = skip_value(c, itype, depth + 1)) != AP_OK)
                return rc;
        return AP_OK;
    }
    return apx_error_set(c->err, AP_ECORRUPT, "gguf: unknown value type %u",
                         type);
}

/* Read an integer value of any integer type into *v (signed view). */
static int rd_int(cur *c, uint32_t type, int64_t *v, int *ok)
{
    unsigned char b[8];
    size_t sz = scalar_size(type);
    int rc;
    *ok = 0;
    if (type == GT_F32 || type == GT_F64 || type == GT_BOOL || !sz)
        return skip_value(c, type, 0);
    if ((rc = cur_read(c, b, sz)) != AP_OK)
        return rc;
    switch (type) {
    case GT_U8: *v = b[0]; break;
    case GT_I8: *v = (int8_t)b[0]; break;
    case GT_U16: *v = (uint16_t)(b[0] | b[1] << 8); break;
    case GT_I16: *v = (int16_t)(uint16_t)(b[0] | b[1] << 8); break;
    case GT_U32: *v = le32(b); break;
    case GT_I32: *v = (int32_t)le32(b); break;
    case GT_U64: {
        uint64_t u = le64(b);
        *v = u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
        break;
    }
    default: *v = (int64_t)le64(b); break;
    }
    *ok = 1;
    return AP_OK;
}

const char *apx_gguf_ftype_name(int64_t ftype)
{
    /* llama.h enum llama_ftype, index = value.  4 (Q4_1_SOME_F16),
     * 5 (Q4_2), 6 (Q4_3) and 33-35 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were
     * removed from llama.cpp: no name, the file name decides. */
    static const char *const names[] = {
        "f32", "f16", "q4_0", "q4_1", NULL, NULL, NULL, "q8_0",
        "q5_0", "q5_1", "q2_k", "q3_k_s", "q3_k_m", "q3_k_l", "q4_k_s",
        "q4_k_m", "q5_k_s", "q5_k_m", "q6_k", "iq2_xxs", "iq2_xs", "q2_k_s",
        "iq3_xs", "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq3_m", "iq2_s",
        "iq2_m", "iq4_xs", "iq1_m", "bf16", NULL, NULL,
        NULL, "tq1_0", "tq2_0", "mxfp4_moe", "nvfp4", "q1_0"
    };
    if (ftype < 0)
        return NULL;
    ftype &= ~(int64_t)1024;    /* LLAMA_FTYPE_GUESSED */
    if ((uint64_t)ftype >= sizeof names / sizeof names[0])
        return NULL;
    return names[ftype];
}

static int parse(cur *c, apx_model_info *info)
{
    unsigned char hdr[24];
    uint64_t i, declared = 0, counted = 0;
    int rc;

    if ((rc = cur_read(c, hdr, 4)) != AP_OK)
        return rc;
    if (memcmp(hdr, "GGUF", 4) != 0)
        return apx_error_set(c->err, AP_ECORRUPT, "gguf: bad magic");
    if ((rc = cur_read(c, hdr + 4, 20)) != AP_OK)
        return rc;
    info->version = le32(hdr + 4);
    if (info->version != 2 && info->version != 3)
        return apx_error_set(c->err, info->version == 1 ? AP_EUNSUPPORTED
                                                        : AP_ECORRUPT,
                             "gguf: unsupported version %u (want 2 or 3,"
                             " little-endian)", info->version);
    info->tensor_count = le64(hdr + 8);
    info->kv_count = le64(hdr + 16);
    /* A tensor info takes at least 24 bytes, a key-value 13. */
    if (info->tensor_count > APX_GGUF_MAX_TENSORS ||
        info->tensor_count > left(c) / 24)
        return apx_error_set(c->err, AP_ECORRUPT,
                             "gguf: tensor_count %llu is implausible",
                             (unsigned long long)info->tensor_count);
    if (info->kv_count > APX_GGUF_MAX_KV || info->kv_count > left(c) / 13)
        return apx_error_set(c->err, AP_ECORRUPT,
                             "gguf: kv_count %llu exceeds %u",
                             (unsigned long long)info->kv_count,
                             APX_GGUF_MAX_KV);
    strcpy(info->format, "gguf");

    for (i = 0; i < info->kv_count; i++) {
        char key[64];
        uint64_t klen;
        uint32_t type;
        size_t take;

        if ((rc = rd_strlen(c, &klen)) != AP_OK)
            return rc;
        take = klen < sizeof key - 1 ? (size_t)klen : sizeof key - 1;
        if ((rc = cur_read(c, key, take)) != AP_OK)
            return rc;
        key[take] = '\0';
        if (klen > take) {                      /* not a key we want */
            key[0] = '\0';
            if ((rc = cur_skip(c, klen - take)) != AP_OK)
                return rc;
        }
        if ((rc = rd_u32(c, &type)) != AP_OK)
            return rc;

        if (type == GT_STRING && !strcmp(key, "general.architecture"))
            rc = rd_string(c, info->architecture, sizeof info->architecture);
        else if (type == GT_STRING && !strcmp(key, "general.name"))
            rc = rd_string(c, info->name, sizeof info->name);
        else if (!strcmp(key, "general.file_type")) {
            int64_t v;
            int ok;
            rc = rd_int(c, type, &v, &ok);
            if (!rc && ok)
                info->file_type = v;
        } else if (!strcmp(key, "general.parameter_count")) {
            int64_t v;
            int ok;
            rc = rd_int(c, type, &v, &ok);
            if (!rc && ok && v > 0)
                declared = (uint64_t)v;
        } else
            rc = skip_value(c, type, 0);
        if (rc)
            return rc;
    }
    /* Tensor infos: name, u32 n_dims (at most 4, GGML_MAX_DIMS), n_dims
     * u64 dimensions, u32 type, u64 offset.  Each is walked; its element
     * count (the product of its dimensions) is added to the count. */
    for (i = 0; i < info->tensor_count; i++) {
        uint32_t nd, d, ttype;
        uint64_t dim, elems = 1, toff;
        if ((rc = rd_string(c, NULL, 0)) != AP_OK ||
            (rc = rd_u32(c, &nd)) != AP_OK)
            return rc;
        if (nd > 4)
            return apx_error_set(c->err, AP_ECORRUPT,
                                 "gguf: tensor %llu has %u dimensions (at"
                                 " most 4)", (unsigned long long)i, nd);
        for (d = 0; d < nd; d++) {
            if ((rc = rd_u64(c, &dim)) != AP_OK)
                return rc;
            if (dim > (uint64_t)INT64_MAX ||
                (dim && elems > (uint64_t)INT64_MAX / dim))
                return apx_error_set(c->err, AP_ECORRUPT,
                                     "gguf: tensor %llu: element count"
                                     " overflows", (unsigned long long)i);
            elems *= dim;
        }
        if ((rc = rd_u32(c, &ttype)) != AP_OK || (rc = rd_u64(c, &toff)) != AP_OK)
            return rc;
        if (elems > UINT64_MAX - counted)
            return apx_error_set(c->err, AP_ECORRUPT,
                                 "gguf: parameter count overflows");
        counted += elems;
    }
    info->parameters = declared ? declared : counted;
    info->header_bytes = c->off;
    {
        const char *p = apx_gguf_ftype_name(info->file_type);
        if (p)
            snprintf(info->precision, sizeof info->precision, "%s", p);
    }
    return AP_OK;
}

int apx_gguf_parse(const apx_src *src, apx_model_info *info, apx_error *err)
{
    cur *c;
    int rc;
    memset(info, 0, sizeof *info);
    info->file_type = -1;
    if (!(c = apx_malloc(sizeof *c)))
        return apx_error_set(err, AP_ENOMEM, "gguf: out of memory");
    c->src = src;
    c->off = 0;
    c->limit = src->len;
    c->items = 0;
    c->boff = 0;
    c->blen = 0;
    c->err = err;
    rc = parse(c, info);
    free(c);
    if (rc != AP_OK) {
        /* Nothing half-parsed leaves: a caller sees all or nothing. */
        memset(info, 0, sizeof *info);
        info->file_type = -1;
    }
    return rc;
}
