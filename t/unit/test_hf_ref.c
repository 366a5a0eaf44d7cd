/* Unit tests: Hugging Face vendor reference grammar and pure helpers.
 * The vendor sources are compiled into this program (static-link path).
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../vendors/huggingface/ref.c"
#include "../../vendors/huggingface/util.c"
#include "../../vendors/common/text.c"
#include "../../vendors/huggingface/select.c"

/* ---- parser: accepted ------------------------------------------------------- */

typedef struct ok_case {
    const char *in;
    hfv_type type;
    const char *repo, *rev, *quant, *path, *canonical;
} ok_case;

static const ok_case ok_cases[] = {
    { "hf:org/repo", HFV_MODEL, "org/repo", NULL, NULL, NULL, "hf:org/repo" },
    { "huggingface:org/repo", HFV_MODEL, "org/repo", NULL, NULL, NULL, "hf:org/repo" },
    { "HF:org/repo", HFV_MODEL, "org/repo", NULL, NULL, NULL, "hf:org/repo" },
    { "hf://org/repo", HFV_MODEL, "org/repo", NULL, NULL, NULL, "hf:org/repo" },
    { "hf:models/org/repo", HFV_MODEL, "org/repo", NULL, NULL, NULL, "hf:org/repo" },
    { "hf:datasets/org/data", HFV_DATASET, "org/data", NULL, NULL, NULL,
      "hf:datasets/org/data" },
    { "hf:spaces/org/app@main/app.py", HFV_SPACE, "org/app", "main", NULL, "app.py",
      "hf:spaces/org/app@main/app.py" },
    { "hf:TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M", HFV_MODEL,
      "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF", NULL, "Q4_K_M", NULL,
      "hf:TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M" },
    { "hf:org/repo:q4_k_m", HFV_MODEL, "org/repo", NULL, "Q4_K_M", NULL,
      "hf:org/repo:Q4_K_M" },
    { "hf:org/repo:Default", HFV_MODEL, "org/repo", NULL, "default", NULL,
      "hf:org/repo:default" },
    { "hf:org/repo@v1.0:Q8_0", HFV_MODEL, "org/repo", "v1.0", "Q8_0", NULL,
      "hf:org/repo@v1.0:Q8_0" },
    { "hf:org/repo@abc1234/config.json", HFV_MODEL, "org/repo", "abc1234", NULL,
      "config.json", "hf:org/repo@abc1234/config.json" },
    { "hf:org/repo/sub/dir/w.safetensors", HFV_MODEL, "org/repo", NULL, NULL,
      "sub/dir/w.safetensors", "hf:org/repo/sub/dir/w.safetensors" },
    { "hf:org/repo@refs/pr/1", HFV_MODEL, "org/repo", "refs/pr/1", NULL, NULL,
      "hf:org/repo@refs/pr/1" },
    { "hf:org/repo@refs/pr/12/sub/f.gguf", HFV_MODEL, "org/repo", "refs/pr/12", NULL,
      "sub/f.gguf", "hf:org/repo@refs/pr/12/sub/f.gguf" },
    { "hf:org/repo@refs/pr/3:Q4_0", HFV_MODEL, "org/repo", "refs/pr/3", "Q4_0", NULL,
      "hf:org/repo@refs/pr/3:Q4_0" },
    { "hf:datasets/org/d@refs/convert/parquet/x/0.parquet", HFV_DATASET, "org/d",
      "refs/convert/parquet", NULL, "x/0.parquet",
      "hf:datasets/org/d@refs/convert/parquet/x/0.parquet" },
    { "hf:org/repo@feature%2Fx/a.txt", HFV_MODEL, "org/repo", "feature/x", NULL,
      "a.txt", "hf:org/repo@feature%2Fx/a.txt" },
    { "hf:org/repo/file:with:colons.txt", HFV_MODEL, "org/repo", NULL, NULL,
      "file:with:colons.txt", "hf:org/repo/file:with:colons.txt" },
    { "hf:org/repo/name with space.gguf", HFV_MODEL, "org/repo", NULL, NULL,
      "name with space.gguf", "hf:org/repo/name with space.gguf" },
    { "hf:a.b_c-d/e.f_g-h", HFV_MODEL, "a.b_c-d/e.f_g-h", NULL, NULL, NULL,
      "hf:a.b_c-d/e.f_g-h" },
};

static void assert_str_or_null(const char *want, const char *got)
{
    if (!want)
        assert_null(got);
    else {
        assert_non_null(got);
        assert_string_equal(want, got);
    }
}

static void test_parse_ok(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
        const ok_case *k = &ok_cases[i];
        hfv_ref r;
        char err[256], *canon;
        int rc = hfv_ref_parse(k->in, &r, err, sizeof err);
        if (rc != AP_OK)
            fail_msg("'%s' refused: %s", k->in, err);
        assert_int_equal(k->type, r.type);
        assert_string_equal(k->repo, r.repo);
        assert_str_or_null(k->rev, r.rev);
        assert_str_or_null(k->quant, r.quant);
        assert_str_or_null(k->path, r.path);
        canon = hfv_ref_canonical(&r);
        assert_non_null(canon);
        assert_string_equal(k->canonical, canon);
        free(canon);
        hfv_ref_clear(&r);
    }
}

/* ---- parser: refused -------------------------------------------------------- */

static const char *const bad_refs[] = {
    "", "hf:", "huggingface:", "gh:org/repo", "hf:org", "hf:org/", "hf:/repo",
    "hf:org//x", "hf:org/repo@", "hf:org/repo@/x", "hf:org/repo:", "hf:org/repo/",
    "hf:org/repo/a//b", "hf:org/repo/../x", "hf:org/repo/a/./b", "hf:org/repo/a/..",
    "hf:org/re po", "hf:org/repo#x", "hf:org--x/repo", "hf:org/re..po", "hf:-org/repo",
    "hf:org/repo.", "hf:org/repo@refs/pr/x", "hf:org/repo@refs/pr",
    "hf:org/repo@refs/pr/", "hf:org/repo@refs//1", "hf:org/repo:Q4/x",
    "hf:org/repo:Q4 K", "hf:org/repo@a%2", "hf:org/repo@a%zz", "hf:org/repo@a%0a",
    "hf:org/repo/a\tb", "hf:org/repo/a\\b", "hf:datasets/org", "hf:org/repo@x..y",
    "hf:o/r/x\x7f",
    ("hf:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x"),
};

static void test_parse_bad(void **state)
{
    size_t i;
    (void)state;
    for (i = 0; i < sizeof bad_refs / sizeof bad_refs[0]; i++) {
        hfv_ref r;
        char err[256];
        int rc = hfv_ref_parse(bad_refs[i], &r, err, sizeof err);
        if (rc != AP_EINVAL)
            fail_msg("'%s' accepted (rc %d)", bad_refs[i], rc);
        assert_true(err[0] != '\0');
        assert_null(r.repo);
        assert_null(r.rev);
    }
    assert_int_equal(AP_EINVAL, hfv_ref_parse(NULL, &(hfv_ref){ 0 }, NULL, 0));
}

/* ---- URL encoding ----------------------------------------------------------- */

static void test_encode(void **state)
{
    char *s;
    (void)state;
    s = hfv_pct_encode("refs/pr/1", 0);
    assert_string_equal("refs%2Fpr%2F1", s);
    free(s);
    s = hfv_pct_encode("a b/c+d~e_f-g.gguf", 1);
    assert_string_equal("a%20b/c%2Bd~e_f-g.gguf", s);
    free(s);
    s = hfv_pct_encode("x?y#z%\xc3\xa9", 1);
    assert_string_equal("x%3Fy%23z%25%C3%A9", s);
    free(s);
    assert_null(hfv_pct_encode(NULL, 0));
}

/* ---- ETags, Link, URLs -------------------------------------------------------- */

static void test_etag(void **state)
{
    char *s;
    (void)state;
    s = hfv_etag_normalize("W/\"ABCdef\"");
    assert_string_equal("abcdef", s);
    free(s);
    s = hfv_etag_normalize("\"0123\"");
    assert_string_equal("0123", s);
    free(s);
    s = hfv_etag_normalize("plain");
    assert_string_equal("plain", s);
    free(s);
    s = hfv_etag_normalize("w/\"x\""); /* only an exact W/ is a weak marker */
    assert_string_equal("w/\"x\"", s);
    free(s);
    assert_null(hfv_etag_normalize(NULL));
    assert_true(hfv_is_hex("0123456789abcdefABCDEF0123456789abcdef01", 40));
    assert_false(hfv_is_hex("0123456789abcdefABCDEF0123456789abcdef0", 40));
    assert_false(hfv_is_hex("0123456789abcdefABCDEF0123456789abcdef012", 40));
    assert_false(hfv_is_hex(NULL, 40));
}

static void test_link(void **state)
{
    static const struct { const char *in, *want; } cases[] = {
        { "<https://h/api/x?cursor=a>; rel=\"next\"", "https://h/api/x?cursor=a" },
        { "<https://h/p?1>; rel=\"prev\", <https://h/n?2>; rel=\"next\"", "https://h/n?2" },
        { "<https://h/n>;rel=next", "https://h/n" },
        { "< https://h/n >; REL=\"prev next\"", "https://h/n" },
        { "<https://h/a,b>; title=\"x, y; rel=next\"; rel=\"last\"", NULL },
        { "<https://h/a>; rel=\"last\"", NULL },
        { "garbage, <https://h/z>; rel=\"next\"", "https://h/z" },
        { "<https://h/unterminated; rel=\"next\"", NULL },
        { "", NULL },
    };
    size_t i;
    int oom;
    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = hfv_link_next(cases[i].in, &oom);
        assert_int_equal(0, oom);
        if (!cases[i].want) {
            if (got)
                fail_msg("'%s' gave '%s'", cases[i].in, got);
        } else {
            if (!got)
                fail_msg("'%s' gave nothing", cases[i].in);
            assert_string_equal(cases[i].want, got);
        }
        free(got);
    }
    assert_null(hfv_link_next(NULL, &oom));
}

static void test_url(void **state)
{
    char h[64];
    (void)state;
    assert_true(hfv_url_host("https://huggingface.co/api", h, sizeof h));
    assert_string_equal("huggingface.co", h);
    assert_true(hfv_url_host("http://127.0.0.1:8080", h, sizeof h));
    assert_string_equal("127.0.0.1", h);
    assert_true(hfv_url_host("http://u:p@Host.Example:1/x", h, sizeof h));
    assert_string_equal("host.example", h);
    assert_true(hfv_url_host("http://[::1]:80/", h, sizeof h));
    assert_string_equal("::1", h);
    assert_false(hfv_url_host("/relative", h, sizeof h));
    assert_int_equal(strlen("http://a:1"), hfv_url_origin_len("http://a:1/x?y"));
    assert_int_equal(0, hfv_url_origin_len("/x"));
    assert_true(hfv_truthy("1") && hfv_truthy("TRUE") && hfv_truthy("yes"));
    assert_false(hfv_truthy("0") || hfv_truthy("") || hfv_truthy(NULL));
}

/* ---- GGUF names -------------------------------------------------------------- */

static void test_gguf_names(void **state)
{
    char q[33];
    size_t pl;
    unsigned part, total;
    (void)state;
    assert_true(hfv_quant_match("tinyllama.Q4_K_M.gguf", "Q4_K_M"));
    assert_true(hfv_quant_match("d/Llama-3-8B-q4_k_m.GGUF", "Q4_K_M"));
    assert_true(hfv_quant_match("m-Q4_K_M-00001-of-00002.gguf", "q4_k_m"));
    assert_false(hfv_quant_match("m.Q4_K_M.gguf", "Q4_K"));
    assert_false(hfv_quant_match("m.IQ4_XS.gguf", "Q4_XS"));
    assert_true(hfv_quant_match("m.IQ4_XS.gguf", "IQ4_XS"));
    assert_false(hfv_quant_match("Q4_K_M/m.gguf", "Q4_K_M")); /* base name only */

    assert_true(hfv_quant_of("a/tinyllama-1.1b.Q4_K_M.gguf", q, sizeof q));
    assert_string_equal("Q4_K_M", q);
    assert_true(hfv_quant_of("qwen2.5-7b-instruct-q8_0-00001-of-00003.gguf", q, sizeof q));
    assert_string_equal("Q8_0", q);
    assert_true(hfv_quant_of("model-bf16.gguf", q, sizeof q));
    assert_string_equal("BF16", q);
    assert_true(hfv_quant_of("model.F32.gguf", q, sizeof q));
    assert_string_equal("F32", q);
    assert_true(hfv_quant_of("m.IQ2_XXS.gguf", q, sizeof q));
    assert_string_equal("IQ2_XXS", q);
    assert_false(hfv_quant_of("model.gguf", q, sizeof q));
    assert_false(hfv_quant_of("model.Q4_K_M.bin", q, sizeof q));

    assert_true(hfv_split_part("d/m-Q4-00002-of-00003.gguf", &pl, &part, &total));
    assert_int_equal(strlen("d/m-Q4"), pl);
    assert_int_equal(2, part);
    assert_int_equal(3, total);
    assert_false(hfv_split_part("m-00004-of-00003.gguf", &pl, &part, &total));
    assert_false(hfv_split_part("m-00001-of-00003.bin", &pl, &part, &total));
    assert_false(hfv_split_part("m-of-00003.gguf", &pl, &part, &total));
    assert_false(hfv_split_part("00001-of-00003.gguf", &pl, &part, &total));

    assert_true(hfv_is_weight("a/model.safetensors") && hfv_is_weight("x.GGUF"));
    assert_false(hfv_is_weight("tokenizer.model") || hfv_is_weight("config.json"));
    assert_int_equal(0, hfv_edit_distance("abc", "ABC", 10));
    assert_int_equal(1, hfv_edit_distance("config.json", "confg.json", 10));
    assert_int_equal(3, hfv_edit_distance("kitten", "sitting", 10));
    assert_int_equal(2, hfv_edit_distance("kitten", "sitting", 2));
}

static void fill(hfv_list *l, const char *const *names)
{
    for (; *names; names++)
        assert_non_null(hfv_list_add(l, *names));
    hfv_list_sort(l);
}

static size_t count_sel(const hfv_list *l, const char *want_csv)
{
    size_t i, n = 0;
    for (i = 0; i < l->n; i++) {
        if (!l->v[i].selected)
            continue;
        n++;
        if (!strstr(want_csv, l->v[i].path))
            fail_msg("unexpected selection '%s'", l->v[i].path);
    }
    return n;
}

static void test_select(void **state)
{
    static const char *const names[] = {
        "README.md", "config.json", "m.Q8_0.gguf", "m.Q4_K_M.gguf", "m.IQ4_XS.gguf",
        "big/m-Q5_K_M-00001-of-00002.gguf", "big/m-Q5_K_M-00002-of-00002.gguf",
        "mmproj-f16.gguf", NULL
    };
    hfv_list l = { 0 };
    char msg[512];
    (void)state;
    fill(&l, names);
    assert_int_equal(AP_OK, hfv_select_quant(&l, "Q4_K_M", msg, sizeof msg));
    assert_int_equal(1, count_sel(&l, "m.Q4_K_M.gguf"));
    assert_int_equal(AP_OK, hfv_select_quant(&l, "q5_k_m", msg, sizeof msg));
    assert_int_equal(2, count_sel(&l, "big/m-Q5_K_M-00001-of-00002.gguf,"
                                      "big/m-Q5_K_M-00002-of-00002.gguf"));
    assert_int_equal(AP_OK, hfv_select_quant(&l, "default", msg, sizeof msg));
    assert_int_equal(1, count_sel(&l, "m.Q4_K_M.gguf"));
    assert_int_equal(AP_ENOTFOUND, hfv_select_quant(&l, "Q3_K_S", msg, sizeof msg));
    assert_non_null(strstr(msg, "available: F16, IQ4_XS, Q4_K_M, Q5_K_M, Q8_0"));
    hfv_list_clear(&l);
}

static void test_select_default_and_splits(void **state)
{
    static const char *const a[] = { "mmproj-x.gguf", "z.Q2_K.gguf", "x.Q8_0.gguf", NULL };
    static const char *const b[] = { "mmproj-x.gguf", "m.gguf", "n.Q2_K.gguf", NULL };
    static const char *const c[] = { "m-Q4_K_M-00001-of-00003.gguf",
                                     "m-Q4_K_M-00003-of-00003.gguf", NULL };
    static const char *const d[] = { "config.json", "w.safetensors", NULL };
    hfv_list l = { 0 };
    char msg[512];
    (void)state;
    fill(&l, a);
    assert_int_equal(AP_OK, hfv_select_quant(&l, "default", msg, sizeof msg));
    assert_int_equal(1, count_sel(&l, "x.Q8_0.gguf"));
    hfv_list_clear(&l);
    fill(&l, b);
    assert_int_equal(AP_OK, hfv_select_quant(&l, "default", msg, sizeof msg));
    assert_int_equal(1, count_sel(&l, "m.gguf"));
    hfv_list_clear(&l);
    fill(&l, c);
    assert_int_equal(AP_ENOTFOUND, hfv_select_quant(&l, "Q4_K_M", msg, sizeof msg));
    assert_non_null(strstr(msg, "part 2 of 3 is missing"));
    hfv_list_clear(&l);
    fill(&l, d);
    assert_int_equal(AP_ENOTFOUND, hfv_select_quant(&l, "Q4_K_M", msg, sizeof msg));
    assert_non_null(strstr(msg, "no GGUF file"));
    hfv_list_clear(&l);
}

static void test_close_names(void **state)
{
    static const char *const names[] = {
        "config.json", "generation_config.json", "tokenizer.json", "model.safetensors",
        "sub/confg.json", "README.md", NULL
    };
    hfv_list l = { 0 };
    char out[512];
    (void)state;
    fill(&l, names);
    assert_true(hfv_close_names(&l, "confg.json", 5, out, sizeof out) >= 2);
    assert_non_null(strstr(out, "'config.json'"));
    assert_non_null(strstr(out, "'sub/confg.json'"));
    assert_null(strstr(out, "README.md"));
    assert_int_equal(1, hfv_close_names(&l, "model.safetensor", 5, out, sizeof out));
    assert_string_equal("'model.safetensors'", out);
    assert_int_equal(0, hfv_close_names(&l, "zzzzzzzzzz.bin", 5, out, sizeof out));
    hfv_list_clear(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_link),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_gguf_names),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_select_default_and_splits),
        cmocka_unit_test(test_close_names),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests_name("hf_ref", tests, NULL, NULL);
}
