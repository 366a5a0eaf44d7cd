/* Unit tests: GGUF / safetensors header parsers and classification: the
 * headers, malformed headers, names, a FIFO.  Memory bounds and hostile
 * counts are in test_classify_bounds.c, file types, parameters and corrupt
 * headers in test_classify_fields.c; the writer in classify_fixture.h.
 * TAP. */
#include "classify_fixture.h"

static void test_gguf_header(void **state)
{
    buf b = make_gguf(15);
    apx_model_info info;
    char *path;
    cls_out o;
    (void)state;
    assert_int_equal(parse_mem(1, &b, &info), AP_OK);
    assert_string_equal(info.format, "gguf");
    assert_string_equal(info.precision, "q4_k_m");
    assert_string_equal(info.architecture, "llama");
    assert_string_equal(info.name, "TinyLlama");
    assert_int_equal(info.parameters, 1100048384);
    assert_int_equal(info.version, 3);
    assert_int_equal(info.file_type, 15);
    /* On disk, named with a different quant: the header wins. */
    path = write_tmp("tiny.Q8_0.gguf", b.p, b.n);
    o = cls(path, "sub/tiny.Q8_0.gguf");
    assert_int_equal(o.rc, AP_OK);
    assert_string_equal(o.kind, "model");
    assert_string_equal(o.format, "gguf");
    assert_string_equal(o.precision, "q4_k_m");
    assert_string_equal(o.architecture, "llama");
    assert_int_equal(o.parameters, 1100048384);
    cls_free(&o);
    /* A GGUF without a .gguf name is still found by its magic. */
    o = cls(path, "blob");
    assert_int_equal(o.rc, AP_OK);
    assert_string_equal(o.format, "gguf");
    assert_string_equal(o.kind, "model");
    cls_free(&o);
    {
        /* the struct size is checked; clear keeps it and frees */
        ap_classify_info ci = AP_CLASSIFY_INFO_INIT;
        ci.struct_size = sizeof ci.struct_size;
        assert_int_equal(ap_classify(path, NULL, &ci), AP_EINVAL);
        assert_int_equal(ap_classify(path, NULL, NULL), AP_EINVAL);
        ci.struct_size = sizeof ci;
        assert_int_equal(ap_classify(NULL, NULL, &ci), AP_EINVAL);
        assert_int_equal(ap_classify(path, NULL, &ci), AP_OK);
        assert_int_equal(ci.from_header, 1);
        assert_int_equal(ci.tensor_count, 0);
        ap_classify_info_clear(&ci);
        assert_int_equal(ci.struct_size, sizeof ci);
        assert_null(ci.kind);
        assert_null(ci.architecture);
        assert_int_equal(ci.parameters, 0);
        ap_classify_info_clear(NULL);
    }
    free(path);
    free(b.p);
    b = make_gguf(32);
    assert_int_equal(parse_mem(1, &b, &info), AP_OK);
    assert_string_equal(info.precision, "bf16");
    free(b.p);
    b = make_gguf(1024 + 7);          /* guessed flag */
    assert_int_equal(parse_mem(1, &b, &info), AP_OK);
    assert_string_equal(info.precision, "q8_0");
    free(b.p);
    assert_string_equal(apx_gguf_ftype_name(0), "f32");
    assert_string_equal(apx_gguf_ftype_name(1), "f16");
    assert_string_equal(apx_gguf_ftype_name(18), "q6_k");
    assert_null(apx_gguf_ftype_name(5));
    assert_null(apx_gguf_ftype_name(9999));
}

static void test_gguf_malformed(void **state)
{
    apx_model_info info;
    buf b = { 0 }, g = make_gguf(15);
    size_t cut;
    char *path;
    cls_out o;
    (void)state;
    /* bad magic */
    put(&b, "GGUX", 4); u32(&b, 3); u64(&b, 0); u64(&b, 0);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* huge kv_count */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1ull << 40);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* version 1 and big-endian */
    put(&b, "GGUF", 4); u32(&b, 1); u64(&b, 0); u64(&b, 0);
    assert_int_equal(parse_mem(1, &b, &info), AP_EUNSUPPORTED);
    free(b.p); memset(&b, 0, sizeof b);
    put(&b, "GGUF", 4); u32(&b, 3u << 24); u64(&b, 0); u64(&b, 0);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* string length beyond the 1 MiB limit (and beyond the input) */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1);
    u64(&b, 1ull << 62);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* truncated string value */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1);
    str(&b, "general.name"); u32(&b, 8); u64(&b, 100); put(&b, "abc", 3);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* huge array count */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1);
    str(&b, "a"); u32(&b, 9); u32(&b, 8); u64(&b, 1ull << 30);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* array of 2^24 u64 claimed, input tiny: refused without allocating */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1);
    str(&b, "a"); u32(&b, 9); u32(&b, 10); u64(&b, 1u << 24);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* unknown type */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1);
    str(&b, "a"); u32(&b, 77);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p); memset(&b, 0, sizeof b);
    /* deep nesting */
    put(&b, "GGUF", 4); u32(&b, 3); u64(&b, 0); u64(&b, 1);
    str(&b, "a"); u32(&b, 9);
    for (cut = 0; cut < 8; cut++) { u32(&b, 9); u64(&b, 1); }
    u32(&b, 4); u64(&b, 1); u32(&b, 0);
    assert_int_equal(parse_mem(1, &b, &info), AP_ECORRUPT);
    free(b.p);
    /* every truncation of a good header is refused */
    for (cut = 0; cut < g.n; cut++) {
        buf t = { g.p, cut, cut };
        assert_int_equal(parse_mem(1, &t, &info), AP_ECORRUPT);
    }
    /* A file named .gguf whose header is bad: AP_ECORRUPT, name answers. */
    path = write_tmp("bad.Q5_K_M.gguf", g.p, g.n / 2);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_ECORRUPT);
    assert_string_equal(o.kind, "model");
    assert_string_equal(o.format, "gguf");
    assert_string_equal(o.precision, "q5_k_m");
    assert_null(o.architecture);
    cls_free(&o);
    free(path);
    path = write_tmp("notgguf.gguf", "hello world, no magic", 21);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_ECORRUPT);
    cls_free(&o);
    free(path);
    free(g.p);
}
static void test_safetensors(void **state)
{
    apx_model_info info;
    buf b = make_st("{\"__metadata__\":{\"format\":\"pt\"},"
                    "\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}");
    char *path;
    cls_out o;
    (void)state;
    assert_int_equal(parse_mem(0, &b, &info), AP_OK);
    assert_string_equal(info.format, "safetensors");
    assert_string_equal(info.precision, "f16");
    assert_int_equal(info.tensor_count, 2);
    assert_int_equal(info.parameters, 6);
    path = write_tmp("model.safetensors", b.p, b.n);
    o = cls(path, "model-00001-of-00002.safetensors");
    assert_int_equal(o.rc, AP_OK);
    assert_string_equal(o.kind, "model");
    assert_string_equal(o.format, "safetensors");
    assert_string_equal(o.precision, "f16");
    assert_int_equal(o.parameters, 6);
    cls_free(&o);
    free(path);
    free(b.p);
    /* Dominant by bytes: one big BF16 beats two small F32. */
    b = make_st("{\"n1\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"n2\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                "\"w\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[8,24]}}");
    assert_int_equal(parse_mem(0, &b, &info), AP_OK);
    assert_string_equal(info.precision, "bf16");
    free(b.p);
    b = make_st("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}");
    assert_int_equal(parse_mem(0, &b, &info), AP_OK);
    assert_string_equal(info.precision, "f8_e4m3");
    free(b.p);
    /* escapes, UTF-8, nested metadata, unknown members, padding, [] shape */
    b = make_st("{\"__metadata__\":{\"a\":[1,-2.5e3,{\"b\":null}],\"t\":true},"
                "\"w\\u00e9\\ud83d\\ude00\u00e9\":{\"shape\":[],\"x\":{\"y\":[]},"
                "\"data_offsets\":[0,2],\"d\\u0074ype\":\"F\\u00316\"}}   ");
    assert_int_equal(parse_mem(0, &b, &info), AP_OK);
    assert_string_equal(info.precision, "f16");
    assert_int_equal(info.tensor_count, 1);
    assert_int_equal(info.parameters, 1);
    free(b.p);
    b = make_st("{}");
    assert_int_equal(parse_mem(0, &b, &info), AP_OK);
    assert_int_equal(info.tensor_count, 0);
    free(b.p);
}

static void test_safetensors_malformed(void **state)
{
    const char *bad[] = {
        "[1,2]", "{\"a\":1}", "{\"a\":{\"dtype\":\"F16\"}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,0]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,99]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[-1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}",
        /* the streaming reader refuses what the DOM parser refused */
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
        "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"\\u0061\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
        "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1.5],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2,4]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[99999999999999999999],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}} x",
        "{\"a\xff\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\\ud800\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\\u0000\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"a\":{\"dtype\":\"F16\",\"shape\":[01],\"data_offsets\":[0,2]}}",
        "{\"__metadata__\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "{\"__metadata__\":{\"x\":tru}}",
        "{\"__metadata__\":{\"x\":\"1\",\"x\":\"2\"}}",
        "{\"a\":{\"dtype\":\"F16\",\"u\":1,\"u\":2,\"shape\":[1],\"data_offsets\":[0,2]}}",
        "{\"__metadata__\":{\"x\":1e999}}",
        "{\"__metadata__\":{\"x\":\"a\tb\"}}",
    };
    apx_model_info info;
    size_t i;
    buf b = { 0 };
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        buf t = make_st(bad[i]);
        assert_int_equal(parse_mem(0, &t, &info), AP_ECORRUPT);
        free(t.p);
    }
    /* Header length beyond 100 MiB or beyond the file: no allocation. */
    u64(&b, 200u << 20);
    put(&b, "{}", 2);
    assert_int_equal(parse_mem(0, &b, &info), AP_ECORRUPT);
    free(b.p);
    memset(&b, 0, sizeof b);
    u64(&b, 50u << 20);
    put(&b, "{}", 2);
    assert_int_equal(parse_mem(0, &b, &info), AP_ECORRUPT);
    free(b.p);
    memset(&b, 0, sizeof b);
    put(&b, "\x01\x00", 2);
    assert_int_equal(parse_mem(0, &b, &info), AP_ECORRUPT);
    free(b.p);
}

/* What yajl 2.1 accepts and the reader refuses with code of its own
 * (lib/safetensors.c esc_scan, str_check, cb_number): each case fails
 * if that code is removed.  The message names the cause. */
static int st_msg(const char *json, char *msg, size_t msgsz)
{
    buf b = make_st(json);
    apx_src src = { b.p, -1, b.n };
    apx_model_info info;
    apx_error err;
    int rc;
    memset(&err, 0, sizeof err);
    rc = apx_safetensors_parse(&src, &info, &err);
    snprintf(msg, msgsz, "%s", rc == AP_OK ? "" : err.msg);
    free(b.p);
    return rc;
}

#define ST_T "\"t\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}"

static void test_safetensors_yajl_gaps(void **state)
{
    static const struct { const char *json, *cause; } bad[] = {
        /* esc_scan: yajl decodes a lone high surrogate to '?' or pairs it
         * with any \u escape; a lone low one to a UTF-8 surrogate */
        { "{\"a\\ud800\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]}}",
          "lone high surrogate" },
        { "{\"__metadata__\":{\"x\":\"\\ud800\\u0041\"}," ST_T "}", "lone high surrogate" },
        { "{\"__metadata__\":{\"x\":\"\\ud800\\\\u0041\"}," ST_T "}", "lone high surrogate" },
        { "{\"__metadata__\":{\"x\":\"\\udc00\"}," ST_T "}", "lone low surrogate" },
        /* esc_scan: yajl takes form feed and vertical tab for whitespace */
        { "{\f\"__metadata__\":{}," ST_T "}", "form feed or vertical tab" },
        { "{" ST_T "}\v", "form feed or vertical tab" },
        /* esc_scan: yajl takes a string left open after the object for a
         * token still to come */
        { "{" ST_T "} \"x", "unterminated string" },
        { "{" ST_T "}\"", "unterminated string" },
        /* str_check: yajl checks only the UTF-8 byte pattern */
        { "{\"__metadata__\":{\"x\":\"\xc0\x80\"}," ST_T "}", "invalid UTF-8" },
        { "{\"__metadata__\":{\"\xe0\x80\xaf\":\"x\"}," ST_T "}", "invalid UTF-8" },
        { "{\"__metadata__\":{\"x\":\"\xed\xa0\x80\"}," ST_T "}", "invalid UTF-8" },
        { "{\"__metadata__\":{\"x\":\"\xf4\x90\x80\x80\"}," ST_T "}", "invalid UTF-8" },
        { "{\"__metadata__\":{\"x\":\"\xf5\x80\x80\x80\"}," ST_T "}", "invalid UTF-8" },
        { "{\"__metadata__\":{\"x\":\"a\\u0000b\"}," ST_T "}", "\\u0000" },
        /* cb_number: the number's text, not yajl's conversions */
        { "{\"__metadata__\":{\"x\":9223372036854775808}," ST_T "}", "integer too big" },
        { "{\"__metadata__\":{\"x\":-9223372036854775809}," ST_T "}", "integer too big" },
        { "{\"__metadata__\":{\"x\":1.8e308}," ST_T "}", "real number overflow" },
        { "{\"__metadata__\":{\"x\":-0.00000000000000000001e330}," ST_T "}",
          "real number overflow" },
    };
    static const char *good[] = {
        /* yajl's own integer conversion refuses INT64_MIN; jansson took it */
        "{\"__metadata__\":{\"x\":-9223372036854775808,\"y\":9223372036854775807,"
        "\"z\":-0,\"r\":1.7976931348623157e308,\"u\":1e-99999}," ST_T "}",
        "{\"__metadata__\":{\"x\":\"\\ud83d\\ude00\\uDBFF\\uDFFF\xf4\x8f\xbf\xbf\xef\xbf\xbf\"}," ST_T "}",
        "{\"__metadata__\":{\"x\":\"\\\\ud800\\\\\\\\udc00\"}," ST_T "}",
        "{\"__metadata__\":{\"x\":\"\\\"\"}," ST_T "}  \t\r\n",
    };
    char msg[APX_ERRMSG_MAX], *big, *p;
    size_t i, n;
    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (st_msg(bad[i].json, msg, sizeof msg) != AP_ECORRUPT)
            fail_msg("accepted: %s", bad[i].json);
        if (!strstr(msg, bad[i].cause) || !strstr(msg, "safetensors"))
            fail_msg("%s: message \"%s\" lacks \"%s\"", bad[i].json, msg, bad[i].cause);
    }
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        if (st_msg(good[i], msg, sizeof msg) != AP_OK)
            fail_msg("refused: %s: %s", good[i], msg);
    /* Nesting: __metadata__'s value is at depth 1; 63 arrays in it are
     * the most the reader takes. */
    for (n = 63; n <= 64; n++) {
        big = malloc(4 * n + 128);
        assert_non_null(big);
        p = big + sprintf(big, "{\"__metadata__\":");
        for (i = 0; i < n; i++)
            *p++ = '[';
        *p++ = '1';
        for (i = 0; i < n; i++)
            *p++ = ']';
        sprintf(p, "," ST_T "}");
        assert_int_equal(st_msg(big, msg, sizeof msg), n == 63 ? AP_OK : AP_ECORRUPT);
        if (n == 64)
            assert_non_null(strstr(msg, "nested too deep"));
        free(big);
    }
    /* The escape scan keeps its state across the 64 KiB pieces: a pair, or
     * a lone high surrogate, straddling the first piece's end. */
    for (i = 0; i < 2; i++) {
        size_t k, at;
        big = malloc(70000);
        assert_non_null(big);
        p = big + sprintf(big, "{\"__metadata__\":{\"x\":\"");
        at = 65536 - 8 - 3;          /* "\ud83d" ends 3 bytes past the piece */
        while ((size_t)(p - big) < at)
            *p++ = 'a';
        p += sprintf(p, i ? "\\ud83d\\u0041\"}," : "\\ud83d\\ude00\"},");
        k = (size_t)sprintf(p, ST_T "}");
        (void)k;
        assert_int_equal(st_msg(big, msg, sizeof msg), i ? AP_ECORRUPT : AP_OK);
        if (i)
            assert_non_null(strstr(msg, "lone high surrogate"));
        free(big);
    }
}

static void test_name_fallback(void **state)
{
    static const struct { const char *name, *kind, *format, *prec; } cases[] = {
        { "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf", "model", "gguf", "q4_k_m" },
        { "Model-q8_0.gguf", "model", "gguf", "q8_0" },
        { "x-IQ2_XXS-00001-of-00003.gguf", "model", "gguf", "iq2_xxs" },
        { "llama-BF16.gguf", "model", "gguf", "bf16" },
        { "llama-f16.gguf", "model", "gguf", "f16" },
        { "Q4_K_S.gguf", "model", "gguf", "q4_k_s" },
        { "weird.gguf", "model", "gguf", "" },
        { "xQ4_K_M.gguf", "model", "gguf", "" },
        { "model.fp16.safetensors", "model", "safetensors", "f16" },
        { "model-00001-of-00002.safetensors", "model", "safetensors", "" },
        { "pytorch_model.bin", "model", "pytorch", "" },
        { "w.pt", "model", "pytorch", "" },
        { "w.pth", "model", "pytorch", "" },
        { "onnx/model.onnx", "model", "onnx", "" },
        { "tokenizer.json", "tokenizer", "json", "" },
        { "tokenizer_config.json", "tokenizer", "json", "" },
        { "tokenizer.model", "tokenizer", "sentencepiece", "" },
        { "cl100k.tiktoken", "tokenizer", "tiktoken", "" },
        { "vocab.txt", "tokenizer", "text", "" },
        { "merges.txt", "tokenizer", "text", "" },
        { "config.json", "config", "json", "" },
        { "generation_config.json", "config", "json", "" },
        { "params.yaml", "config", "yaml", "" },
        { "README.md", "other", "text", "" },
        { "LICENSE", "other", NULL, "" },
        { "data.json", "other", "json", "" },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cls_out o = cls(NULL, cases[i].name);
        assert_int_equal(o.rc, AP_OK);
        assert_string_equal(o.kind, cases[i].kind);
        if (cases[i].format)
            assert_string_equal(o.format, cases[i].format);
        else
            assert_null(o.format);
        if (cases[i].prec[0])
            assert_string_equal(o.precision, cases[i].prec);
        else
            assert_null(o.precision);
        assert_null(o.architecture);     /* never from a name */
        assert_int_equal(o.parameters, 0);
        cls_free(&o);
    }
    {
        cls_out o = cls(NULL, NULL);
        assert_int_equal(o.rc, AP_EINVAL);
    }
}

/* A FIFO handed to the classifier is refused at once, never blocked on. */
static void test_classify_fifo(void **s)
{
    char dir[] = "/tmp/apclsXXXXXX", path[64];
    cls_out o;
    (void)s;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    alarm(20); /* a regression blocks in open(): fail, do not hang */
    o = cls(path, NULL);
    alarm(0);
    assert_int_not_equal(o.rc, AP_OK);
    assert_null(o.kind);                 /* AP_EIO: nothing filled */
    cls_free(&o);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_header),
        cmocka_unit_test(test_classify_fifo),
        cmocka_unit_test(test_gguf_malformed),
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_safetensors_malformed),
        cmocka_unit_test(test_safetensors_yajl_gaps),
        cmocka_unit_test(test_name_fallback),
    };
    return classify_run("classify", tests, sizeof tests / sizeof tests[0]);
}
