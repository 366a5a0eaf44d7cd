/* Shared by the classification tests (test_classify.c: GGUF and
 * safetensors headers, names; test_classify_bounds.c: memory and hostile
 * counts; test_classify_fields.c: file types, parameters, corrupt headers):
 * a tiny GGUF and safetensors writer, a temp dir, the parsers on memory and
 * ap_classify on a file.  Header-only (static functions), included by one
 * test file at a time.  SPDX-License-Identifier: MIT */
#ifndef AP_T_CLASSIFY_FIXTURE_H
#define AP_T_CLASSIFY_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "formats.h"
#include <artifactprov.h>

/* Not every test uses every helper. */
#define CF_FN static __attribute__((unused))

/* ---- a tiny GGUF writer ------------------------------------------------ */
typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

CF_FN void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
CF_FN void u32(buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)v, (unsigned char)(v >> 8),
                           (unsigned char)(v >> 16), (unsigned char)(v >> 24) };
    put(b, x, 4);
}
CF_FN void u64(buf *b, uint64_t v)
{
    u32(b, (uint32_t)v);
    u32(b, (uint32_t)(v >> 32));
}
CF_FN void str(buf *b, const char *s)
{
    u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* GGUF v3 with architecture, file_type, parameter_count, name, a string
 * array and an f32 array. */
CF_FN buf make_gguf(uint32_t ftype)
{
    buf b = { 0 };
    put(&b, "GGUF", 4);
    u32(&b, 3);
    u64(&b, 0);              /* tensors */
    u64(&b, 6);              /* kvs */
    str(&b, "general.architecture"); u32(&b, 8); str(&b, "llama");
    str(&b, "general.name"); u32(&b, 8); str(&b, "TinyLlama");
    str(&b, "tokenizer.ggml.tokens"); u32(&b, 9); u32(&b, 8); u64(&b, 3);
    str(&b, "<s>"); str(&b, "</s>"); str(&b, "hello");
    str(&b, "tokenizer.ggml.scores"); u32(&b, 9); u32(&b, 6); u64(&b, 3);
    u32(&b, 0); u32(&b, 0); u32(&b, 0);
    str(&b, "general.file_type"); u32(&b, 4); u32(&b, ftype);
    str(&b, "general.parameter_count"); u32(&b, 10); u64(&b, 1100048384);
    return b;
}

static char tmpl[] = "/tmp/ap-test-classify-XXXXXX";
static char *base;

CF_FN char *write_tmp(const char *name, const void *d, size_t n)
{
    char *p = malloc(strlen(base) + strlen(name) + 2);
    FILE *f;
    sprintf(p, "%s/%s", base, name);
    f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
    return p;
}

CF_FN int parse_mem(int gguf, const buf *b, apx_model_info *info)
{
    apx_src src = { b->p, -1, b->n };
    apx_error err;
    return gguf ? apx_gguf_parse(&src, info, &err)
                : apx_safetensors_parse(&src, info, &err);
}

/* What a classification said, through the public API. */
typedef struct cls_out {
    int rc;
    char *kind, *format, *precision, *architecture;
    uint64_t parameters;
} cls_out;

CF_FN void cls_free(cls_out *o)
{
    ap_free(o->kind); ap_free(o->format); ap_free(o->precision);
    ap_free(o->architecture);
    memset(o, 0, sizeof *o);
}

CF_FN cls_out cls(const char *path, const char *name)
{
    cls_out o;
    memset(&o, 0, sizeof o);
    {
        ap_classify_info ci = AP_CLASSIFY_INFO_INIT;
        o.rc = ap_classify(path, name, &ci);
        o.kind = ci.kind;
        o.format = ci.format;
        o.precision = ci.precision;
        o.architecture = ci.architecture;
        o.parameters = ci.parameters;
    }
    return o;
}

CF_FN buf make_st(const char *json)
{
    buf b = { 0 };
    u64(&b, strlen(json));
    put(&b, json, strlen(json));
    put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    return b;
}

/* Start a GGUF v3 header of tensor_count / kv_count. */
CF_FN void gguf_start(buf *b, uint64_t nt, uint64_t nkv)
{
    put(b, "GGUF", 4); u32(b, 3); u64(b, nt); u64(b, nkv);
}

CF_FN void tensor_info(buf *b, const char *name, uint32_t ndims,
                        const uint64_t *dims, uint32_t type, uint64_t off)
{
    uint32_t d;
    str(b, name); u32(b, ndims);
    for (d = 0; d < ndims; d++)
        u64(b, dims[d]);
    u32(b, type); u64(b, off);
}

/* Run the group in a fresh temp dir (`base`), removed afterwards. */
CF_FN int classify_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
    int rc;
    char cmd[128];
    cmocka_set_message_output(CM_OUTPUT_TAP);
    base = mkdtemp(tmpl);
    if (!base)
        return 1;
    rc = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}

#endif
