/* libartifactprov — bounded safetensors header parser.
 *
 * Layout: u64 little-endian N, then N bytes of JSON: an object mapping
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 * optional "__metadata__" object (ignored).  N above 100 MiB, or beyond
 * the end of the file, is refused before anything is allocated.
 * The precision is the dominant dtype by bytes (ties: by tensor count),
 * lower-cased ("f16", "bf16", "f8_e4m3", ...).
 * SPDX-License-Identifier: MIT */
#include "formats.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DTYPES 32

typedef struct dtype_stat {
    char name[16];
    uint64_t bytes;
    uint64_t count;
} dtype_stat;

static int parse_doc(json_t *root, uint64_t data_len, apx_model_info *info,
                     apx_error *err)
{
    dtype_stat st[MAX_DTYPES];
    size_t nst = 0, i, best = 0;
    const char *key;
    json_t *val;

    if (!json_is_object(root))
        return apx_error_set(err, AP_ECORRUPT,
                             "safetensors: header is not a JSON object");
    json_object_foreach(root, key, val) {
        json_t *dt, *offs, *shape, *dim;
        const char *d;
        uint64_t b, e, elems = 1;
        size_t k, j;

        if (!strcmp(key, "__metadata__"))
            continue;
        dt = json_object_get(val, "dtype");
        offs = json_object_get(val, "data_offsets");
        shape = json_object_get(val, "shape");
        if (!json_is_object(val) || !json_is_string(dt) ||
            !json_is_array(offs) || json_array_size(offs) != 2 ||
            !json_is_integer(json_array_get(offs, 0)) ||
            !json_is_integer(json_array_get(offs, 1)) ||
            !json_is_array(shape))
            return apx_error_set(err, AP_ECORRUPT,
                                 "safetensors: tensor '%.64s' lacks dtype, "
                                 "shape or data_offsets", key);
        if (json_integer_value(json_array_get(offs, 0)) < 0 ||
            json_integer_value(json_array_get(offs, 1)) < 0)
            return apx_error_set(err, AP_ECORRUPT,
                                 "safetensors: negative data offset");
        b = (uint64_t)json_integer_value(json_array_get(offs, 0));
        e = (uint64_t)json_integer_value(json_array_get(offs, 1));
        if (e < b || e > data_len)
            return apx_error_set(err, AP_ECORRUPT,
                                 "safetensors: tensor '%.64s' data [%llu,%llu)"
                                 " outside the %llu data bytes", key,
                                 (unsigned long long)b, (unsigned long long)e,
                                 (unsigned long long)data_len);
        json_array_foreach(shape, j, dim) {
            json_int_t v = json_integer_value(dim);
            if (!json_is_integer(dim) || v < 0)
                return apx_error_set(err, AP_ECORRUPT,
                                     "safetensors: bad shape of '%.64s'", key);
            if (v != 0 && elems > UINT64_MAX / (uint64_t)v)
                elems = UINT64_MAX;
            else
                elems *= (uint64_t)v;
        }
        if (info->parameters <= UINT64_MAX - elems)
            info->parameters += elems;
        d = json_string_value(dt);
        if (strlen(d) == 0 || strlen(d) >= sizeof st[0].name)
            return apx_error_set(err, AP_ECORRUPT,
                                 "safetensors: bad dtype of '%.64s'", key);
        for (k = 0; k < nst; k++)
            if (!strcasecmp(st[k].name, d))
                break;
        if (k == nst) {
            if (nst == MAX_DTYPES)
                return apx_error_set(err, AP_ECORRUPT,
                                     "safetensors: too many dtypes");
            for (j = 0; d[j]; j++)
                st[k].name[j] = (char)tolower((unsigned char)d[j]);
            st[k].name[j] = '\0';
            st[k].bytes = st[k].count = 0;
            nst++;
        }
        st[k].bytes += e - b;
        st[k].count++;
        info->tensor_count++;
    }
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
    char *buf;
    json_t *root;
    json_error_t jerr;
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
    if (!(buf = apx_malloc((size_t)n)))
        return apx_error_set(err, AP_ENOMEM, "safetensors: out of memory");
    if ((rc = apx_src_pread(src, 8, buf, (size_t)n)) != AP_OK) {
        free(buf);
        return apx_error_set(err, rc, "safetensors: cannot read header");
    }
    if (buf[0] != '{') {
        free(buf);
        return apx_error_set(err, AP_ECORRUPT,
                             "safetensors: header does not start with '{'");
    }
    root = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!root)
        return apx_error_set(err, AP_ECORRUPT,
                             "safetensors: bad JSON header: %s (line %d)",
                             jerr.text, jerr.line);
    strcpy(info->format, "safetensors");
    info->header_bytes = 8 + n;
    rc = parse_doc(root, src->len - 8 - n, info, err);
    json_decref(root);
    return rc;
}
