/* Unit tests: what classification reports: every GGUF file type, the
 * parameters from tensor shapes, only name-based answers from a corrupt
 * header.  TAP. */
#include "classify_fixture.h"

/* Every general.file_type of current llama.cpp (llama.h, llama_ftype)
 * maps to its name; the removed values (4, 5, 6, 33-35) to none. */
static void test_gguf_every_ftype(void **state)
{
    static const struct { int v; const char *name; } ft[] = {
        { 0, "f32" }, { 1, "f16" }, { 2, "q4_0" }, { 3, "q4_1" },
        { 7, "q8_0" }, { 8, "q5_0" }, { 9, "q5_1" }, { 10, "q2_k" },
        { 11, "q3_k_s" }, { 12, "q3_k_m" }, { 13, "q3_k_l" },
        { 14, "q4_k_s" }, { 15, "q4_k_m" }, { 16, "q5_k_s" },
        { 17, "q5_k_m" }, { 18, "q6_k" }, { 19, "iq2_xxs" },
        { 20, "iq2_xs" }, { 21, "q2_k_s" }, { 22, "iq3_xs" },
        { 23, "iq3_xxs" }, { 24, "iq1_s" }, { 25, "iq4_nl" },
        { 26, "iq3_s" }, { 27, "iq3_m" }, { 28, "iq2_s" }, { 29, "iq2_m" },
        { 30, "iq4_xs" }, { 31, "iq1_m" }, { 32, "bf16" }, { 36, "tq1_0" },
        { 37, "tq2_0" }, { 38, "mxfp4_moe" }, { 39, "nvfp4" },
        { 40, "q1_0" }, { 1024 + 15, "q4_k_m" },
        { 4, NULL }, { 5, NULL }, { 6, NULL }, { 33, NULL }, { 34, NULL },
        { 35, NULL }, { 41, NULL }, { 1023, NULL },
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof ft / sizeof ft[0]; i++) {
        buf b = make_gguf((uint32_t)ft[i].v);
        char *path = write_tmp("ft.gguf", b.p, b.n);
        cls_out o = cls(path, "model.gguf");
        print_message("# file_type %d -> %s\n", ft[i].v,
                      o.precision ? o.precision : "(none)");
        assert_int_equal(o.rc, AP_OK);
        if (ft[i].name) {
            assert_non_null(o.precision);
            assert_string_equal(o.precision, ft[i].name);
        } else {
            assert_null(o.precision);
        }
        cls_free(&o);
        free(path);
        free(b.p);
    }
}

/* Without general.parameter_count the parameters are the sum of the
 * products of the tensor shapes (GGUF tensor infos, safetensors shape). */
static void test_params_from_shapes(void **state)
{
    static const uint64_t d1[] = { 4096, 32000 }, d2[] = { 4096 },
                          d3[] = { 2, 3, 4, 5 }, big[] = { 1ull << 40, 1ull << 40 };
    buf b = { 0 };
    char *path;
    cls_out o;
    (void)state;
    gguf_start(&b, 3, 2);
    str(&b, "general.architecture"); u32(&b, 8); str(&b, "llama");
    str(&b, "general.file_type"); u32(&b, 4); u32(&b, 7);
    tensor_info(&b, "token_embd.weight", 2, d1, 8, 0);
    tensor_info(&b, "output_norm.weight", 1, d2, 0, 139264000);
    tensor_info(&b, "x", 4, d3, 0, 139280384);
    path = write_tmp("shapes.gguf", b.p, b.n);
    o = cls(path, "shapes.gguf");
    assert_int_equal(o.rc, AP_OK);
    assert_string_equal(o.precision, "q8_0");
    assert_int_equal(o.parameters, 4096ull * 32000 + 4096 + 2 * 3 * 4 * 5);
    cls_free(&o);
    free(path);
    free(b.p);
    /* general.parameter_count, when present, is what the file says */
    memset(&b, 0, sizeof b);
    gguf_start(&b, 1, 1);
    str(&b, "general.parameter_count"); u32(&b, 10); u64(&b, 7);
    tensor_info(&b, "t", 1, d2, 0, 0);
    path = write_tmp("declared.gguf", b.p, b.n);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_OK);
    assert_int_equal(o.parameters, 7);
    cls_free(&o);
    free(path);
    free(b.p);
    /* a product that overflows, more than 4 dims: corrupt, no count */
    memset(&b, 0, sizeof b);
    gguf_start(&b, 1, 1);
    str(&b, "general.architecture"); u32(&b, 8); str(&b, "llama");
    tensor_info(&b, "t", 2, big, 0, 0);
    path = write_tmp("overflow.Q8_0.gguf", b.p, b.n);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_ECORRUPT);
    assert_null(o.architecture);
    assert_int_equal(o.parameters, 0);
    assert_string_equal(o.precision, "q8_0");      /* from the name */
    cls_free(&o);
    free(path);
    free(b.p);
    memset(&b, 0, sizeof b);
    gguf_start(&b, 1, 0);
    {
        static const uint64_t d5[] = { 1, 1, 1, 1, 1 };
        tensor_info(&b, "t", 5, d5, 0, 0);
    }
    path = write_tmp("dims5.gguf", b.p, b.n);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_ECORRUPT);
    assert_int_equal(o.parameters, 0);
    cls_free(&o);
    free(path);
    free(b.p);
    /* safetensors: a shape product, or a sum, past 2^64: corrupt */
    b = make_st("{\"a\":{\"dtype\":\"BF16\",\"shape\":[4294967296,4294967296],"
                "\"data_offsets\":[0,2]}}");
    path = write_tmp("ovf.safetensors", b.p, b.n);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_ECORRUPT);
    assert_int_equal(o.parameters, 0);
    cls_free(&o);
    free(path);
    free(b.p);
    b = make_st("{\"a\":{\"dtype\":\"BF16\",\"shape\":[4294967295,4294967295],"
                "\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"BF16\",\"shape\":"
                "[4294967295,4294967295],\"data_offsets\":[0,2]}}");
    path = write_tmp("ovf2.safetensors", b.p, b.n);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_ECORRUPT);
    assert_int_equal(o.parameters, 0);
    cls_free(&o);
    free(path);
    free(b.p);
    /* safetensors: the shapes, through the public API */
    b = make_st("{\"a\":{\"dtype\":\"BF16\",\"shape\":[3,5],\"data_offsets\":[0,30]},"
                "\"b\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[30,32]}}");
    path = write_tmp("st.safetensors", b.p, b.n);
    o = cls(path, NULL);
    assert_int_equal(o.rc, AP_OK);
    assert_string_equal(o.precision, "bf16");
    assert_null(o.architecture);
    assert_int_equal(o.parameters, 16);
    cls_free(&o);
    free(path);
    free(b.p);
}

/* A header that breaks after general.architecture and parameter_count
 * were read: AP_ECORRUPT and only the name-based answers, never the
 * half-parsed architecture or parameters. */
static void test_corrupt_returns_name_fields_only(void **state)
{
    buf b = { 0 };
    char *path;
    cls_out o;
    (void)state;
    gguf_start(&b, 0, 3);
    str(&b, "general.architecture"); u32(&b, 8); str(&b, "llama");
    str(&b, "general.parameter_count"); u32(&b, 10); u64(&b, 123456);
    str(&b, "general.name"); u32(&b, 8); u64(&b, 1000); put(&b, "trunc", 5);
    path = write_tmp("half.Q5_K_M.gguf", b.p, b.n);
    o = cls(path, "sub/half.Q5_K_M.gguf");
    assert_int_equal(o.rc, AP_ECORRUPT);
    assert_string_equal(o.kind, "model");
    assert_string_equal(o.format, "gguf");
    assert_string_equal(o.precision, "q5_k_m");
    assert_null(o.architecture);
    assert_int_equal(o.parameters, 0);
    cls_free(&o);
    free(path);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_every_ftype),
        cmocka_unit_test(test_params_from_shapes),
        cmocka_unit_test(test_corrupt_returns_name_fields_only),
    };
    return classify_run("classify_fields", tests, sizeof tests / sizeof tests[0]);
}
