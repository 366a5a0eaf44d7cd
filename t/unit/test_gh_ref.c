/* Unit tests: GitHub releases vendor -- reference grammar, canonical form,
 * checksum-file parsing, minisign document form, companion names, Link
 * headers.  The vendor sources are compiled into this program.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../vendors/github/ref.c"
#include "../../vendors/github/sums.c"
#include "../../vendors/github/api.c"
#include "../../vendors/github/release.c"
#include "../../vendors/common/env.c"
#include "../../vendors/common/text.c"

typedef struct ok_case {
    const char *in, *owner, *repo, *tag;
    int tag_glob;
    const char *glob, *resolved, *canonical;
} ok_case;

static const ok_case ok_cases[] = {
    { "gh:o/r", "o", "r", NULL, 0, NULL, "v1", "gh:o/r@v1" },
    { "github:o/r", "o", "r", NULL, 0, NULL, "v1", "gh:o/r@v1" },
    { "gh:ggml-org/llama.cpp/llama-*-bin-ubuntu-x64.zip", "ggml-org", "llama.cpp", NULL, 0,
      "llama-*-bin-ubuntu-x64.zip", "b1234", "gh:ggml-org/llama.cpp@b1234/llama-*-bin-ubuntu-x64.zip" },
    { "gh:o/r@v1.2.3/a.bin", "o", "r", "v1.2.3", 0, "a.bin", "v1.2.3", "gh:o/r@v1.2.3/a.bin" },
    { "gh:o/r@v1.*/t-*", "o", "r", "v1.*", 1, "t-*", "v1.9", "gh:o/r@v1.9/t-*" },
    { "gh:o/r@rc[0-9]", "o", "r", "rc[0-9]", 1, NULL, "rc7", "gh:o/r@rc7" },
    { "gh:o/r@release%2F7/x", "o", "r", "release/7", 0, "x", "release/7", "gh:o/r@release%2F7/x" },
    { "gh:o/r@100%25/x", "o", "r", "100%", 0, "x", "100%", "gh:o/r@100%25/x" },
    { "gh:O-1/R_e.po@v/with space.bin", "O-1", "R_e.po", "v", 0, "with space.bin", "v",
      "gh:O-1/R_e.po@v/with space.bin" },
};

static void test_parse_ok(void **st)
{
    size_t i;
    (void)st;
    for (i = 0; i < sizeof ok_cases / sizeof *ok_cases; i++) {
        const ok_case *k = &ok_cases[i];
        ghv_ref r;
        char err[256], *canon;
        int rc = ghv_ref_parse(k->in, &r, err, sizeof err);
        if (rc != AP_OK)
            fail_msg("%s: %s", k->in, err);
        assert_string_equal(r.owner, k->owner);
        assert_string_equal(r.repo, k->repo);
        if (k->tag)
            assert_string_equal(r.tag, k->tag);
        else
            assert_null(r.tag);
        assert_int_equal(r.tag_glob, k->tag_glob);
        if (k->glob)
            assert_string_equal(r.glob, k->glob);
        else
            assert_null(r.glob);
        canon = ghv_ref_canonical(&r, k->resolved);
        assert_non_null(canon);
        assert_string_equal(canon, k->canonical);
        free(canon);
        ghv_ref_clear(&r);
    }
}

static void test_parse_bad(void **st)
{
    static const char *const bad[] = {
        "hf:o/r", "gh:", "gh:o", "gh:/r", "gh:o/", "gh:o/r@", "gh:o/r@/x", "gh:o/r/",
        "gh:o/r@v1/", "gh:o/r/a/b", "gh:o_x/r", "gh:o/r!x", "gh:o/./a", "gh:o/../a",
        "gh:o/r@%zz/a", "gh:o/r@%4", "gh:o/r@v%0a1/a", "gh:o/r/a\tb",
        "gh:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/r", NULL,
    };
    size_t i;
    (void)st;
    for (i = 0; bad[i]; i++) {
        ghv_ref r;
        char err[256] = "";
        int rc = ghv_ref_parse(bad[i], &r, err, sizeof err);
        if (rc != AP_EINVAL)
            fail_msg("%s: accepted (rc %d)", bad[i], rc);
        assert_true(err[0] != '\0');
        assert_null(r.owner);
    }
}

#define HA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HB "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"
#define HB_LOWER "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static int look(const char *doc, const char *name, int bare, char out[65])
{
    return ghv_sums_lookup(doc, strlen(doc), name, bare, out);
}

static void test_sums(void **st)
{
    char out[65];
    const char *doc = "# sha256sum -b output\n"
                      HA " *a.bin\n"
                      HB "  dir/b.bin\r\n"
                      "\n"
                      HA "  ./c.bin\n"
                      "\\" HA "  we\\\\ird\\nname\n"
                      HA "  a.bin.sig\n"
                      "0123  short.bin\n"
                      HA "  with space.bin\n";
    (void)st;
    assert_int_equal(look(doc, "a.bin", 0, out), 1);
    assert_string_equal(out, HA);
    assert_int_equal(look(doc, "dir/b.bin", 0, out), 1);
    assert_string_equal(out, HB_LOWER);               /* lower-cased */
    assert_int_equal(look(doc, "c.bin", 0, out), 1);  /* ./ ignored */
    assert_int_equal(look(doc, "we\\ird\nname", 0, out), 1); /* escapes */
    assert_int_equal(look(doc, "with space.bin", 0, out), 1);
    assert_int_equal(look(doc, "a.bi", 0, out), 0);   /* no prefix match */
    assert_int_equal(look(doc, "b.bin", 0, out), 0);  /* no basename match */
    assert_int_equal(look(doc, "short.bin", 0, out), 0);
    assert_int_equal(look(doc, "missing", 1, out), 0); /* several lines: no bare */
    /* a NAME.sha256 holding the digest alone */
    assert_int_equal(look(HA "\n", "x.bin", 1, out), 1);
    assert_string_equal(out, HA);
    assert_int_equal(look(HA "\n", "x.bin", 0, out), 0);
    assert_int_equal(look(HA, "x.bin", 1, out), 1);    /* no final newline */
    /* one hash with a name: the name must match */
    assert_int_equal(look(HA "  y.bin\n", "x.bin", 1, out), 0);
    /* one space only (not the coreutils format) */
    assert_int_equal(look(HA " a.bin\n", "a.bin", 0, out), 0);
    /* 65 hex digits */
    assert_int_equal(look(HA "0  a.bin\n", "a.bin", 0, out), 0);
}

static void test_minisig_form(void **st)
{
    const char *good =
        "untrusted comment: signature from minisign secret key\n"
        "RUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\n"
        "trusted comment: timestamp:1700000000\tfile:a.bin\n"
        "y7gAPmD9oMpaNoNVh/tWNqGSaKpEFyLM48ShqT6GH0IYkaj/BDE0iLwkLB6ZcObfC0Fdh1Y4Si+8+mF5DTBEAw==\n";
    char *bad;
    (void)st;
    assert_int_equal(ghv_minisig_wellformed(good, strlen(good)), 1);
    assert_int_equal(ghv_minisig_wellformed("not a signature\n", 16), 0);
    assert_int_equal(ghv_minisig_wellformed(good, 60), 0);        /* cut */
    bad = strdup(good);
    bad[60] = '!';                                                /* not base64 */
    assert_int_equal(ghv_minisig_wellformed(bad, strlen(bad)), 0);
    free(bad);
}

static void test_companions(void **st)
{
    (void)st;
    assert_true(ghv_is_companion("SHA256SUMS"));
    assert_true(ghv_is_companion("sha256sums.txt"));
    assert_true(ghv_is_companion("tool_1.0_checksums.txt"));
    assert_true(ghv_is_companion("a.bin.sha256"));
    assert_true(ghv_is_companion("a.bin.minisig"));
    assert_true(ghv_is_companion("a.tar.gz.asc"));
    assert_false(ghv_is_companion("a.bin"));
    assert_false(ghv_is_companion("checksums.txt.gz"));
    assert_false(ghv_is_companion("model.gguf"));
}

static void test_link_next(void **st)
{
    char *u;
    (void)st;
    u = link_next("<http://h/r?page=2>; rel=\"next\", <http://h/r?page=9>; rel=\"last\"");
    assert_string_equal(u, "http://h/r?page=2");
    free(u);
    u = link_next("<http://h/r?page=1>; rel=\"prev\", <http://h/r?page=3>; rel=\"next\"");
    assert_string_equal(u, "http://h/r?page=3");
    free(u);
    u = link_next("<http://h/r?a=1,2>; rel=next");
    assert_string_equal(u, "http://h/r?a=1,2");
    free(u);
    assert_null(link_next("<http://h/r?page=9>; rel=\"last\""));
    assert_null(link_next(NULL));
    assert_null(link_next("garbage"));
}

static void test_glob(void **st)
{
    (void)st;
    assert_true(ghv_has_glob("v1.*"));
    assert_true(ghv_has_glob("rc[0-9]"));
    assert_false(ghv_has_glob("v1.2"));
    assert_true(ghv_glob_match("tool-*.tar.gz", "tool-linux.tar.gz"));
    assert_false(ghv_glob_match("tool-*.tar.gz", "tool-linux.zip"));
    assert_true(ghv_glob_match("v1.?", "v1.9"));
    assert_false(ghv_glob_match("v1.?", "v1.10"));
}

static void test_utc(void **st)
{
    char buf[64];
    (void)st;
    ghv_utc(1700000000, buf, sizeof buf);
    assert_string_equal(buf, "2023-11-14 22:13:20 UTC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_sums),
        cmocka_unit_test(test_minisig_form),
        cmocka_unit_test(test_companions),
        cmocka_unit_test(test_link_next),
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_utc),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
