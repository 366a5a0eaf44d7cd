/* apctl's exit statuses (tools/apctl/exitcodes.c) and size arguments
 * (tools/apctl/sizes.c): every ap_status has the class its documentation
 * promises, a status the map does not know (a newer library) is 1, and
 * sizes take their suffixes.  The two files are compiled into this test.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../tools/apctl/exitcodes.c"
#include "../../tools/apctl/sizes.c"

#include <string.h>

static const struct { int status; int code; } expected[] = {
    { AP_OK, 0 },
    { AP_ERROR, 1 }, { AP_ENOMEM, 1 }, { AP_EIO, 1 }, { AP_ENOSPC, 1 }, { AP_EUSER, 1 },
    { AP_EINVAL, 2 },
    { AP_ENOTFOUND, 3 }, { AP_EAUTH, 3 }, { AP_EGATED, 3 }, { AP_EVENDOR, 3 },
    { AP_EABI, 3 }, { AP_EUNSUPPORTED, 3 }, { AP_EOFFLINE, 3 }, { AP_EPATH, 3 },
    { AP_EEXIST, 3 },
    { AP_ENETWORK, 4 }, { AP_EHTTP, 4 }, { AP_EPROTOCOL, 4 }, { AP_ERATELIMIT, 4 },
    { AP_ETIMEDOUT, 4 }, { AP_EBUSY, 4 }, { AP_ESIZE, 4 },
    { AP_EDIGEST, 5 }, { AP_ECORRUPT, 5 },
    { AP_ECANCELLED, 130 },
};

static void test_every_status_mapped(void **state)
{
    size_t i, n = sizeof expected / sizeof expected[0];
    int s;
    (void)state;
    for (i = 0; i < n; i++) {
        if (apctl_exit_code(expected[i].status) != expected[i].code)
            fail_msg("status %d (%s): exit %d, want %d", expected[i].status,
                     ap_strerror(expected[i].status),
                     apctl_exit_code(expected[i].status), expected[i].code);
    }
    /* every status the library knows is in the table above: a new one
     * must be classed here (and in --help and the man page) */
    for (s = -1; strcmp(ap_strerror(s), ap_strerror(-1000)) != 0; s--) {
        for (i = 0; i < n && expected[i].status != s; i++)
            ;
        if (i == n)
            fail_msg("status %d (%s) has no class in this test", s, ap_strerror(s));
    }
    assert_int_equal(s, AP_ETIMEDOUT - 1);
    /* one the map does not know: "other failure" */
    assert_int_equal(apctl_exit_code(-1000), 1);
    /* every class is documented in the help text */
    assert_non_null(strstr(apctl_exit_help, "  3    not found"));
    assert_non_null(strstr(apctl_exit_help, "  4    network"));
    assert_non_null(strstr(apctl_exit_help, "  5    integrity"));
    assert_non_null(strstr(apctl_exit_help, "  130  cancelled"));
}

static void test_sizes(void **state)
{
    static const struct { const char *s; uint64_t v; } ok[] = {
        { "0", 0 }, { "4096", 4096 }, { "512K", 512 * 1024 }, { "512k", 512 * 1024 },
        { "10M", 10485760 }, { "10MiB", 10485760 }, { "10MB", 10485760 },
        { "1G", 1073741824 }, { "2T", 2199023255552ull }, { "1mib", 1048576 },
    };
    static const char *bad[] = { "", "M", "-1", "10X", "10MM", "1.5M", "10 M",
                                 "99999999999999999999", "16777216T", " 1" };
    uint64_t v;
    size_t i;
    (void)state;
    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        v = 1;
        if (apctl_parse_size(ok[i].s, &v) != 0 || v != ok[i].v)
            fail_msg("'%s' -> %llu, want %llu", ok[i].s, (unsigned long long)v,
                     (unsigned long long)ok[i].v);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (apctl_parse_size(bad[i], &v) == 0)
            fail_msg("'%s' accepted as %llu", bad[i], (unsigned long long)v);
    assert_int_equal(apctl_parse_uint("12", &v), 0);
    assert_int_equal(v, 12);
    assert_int_not_equal(apctl_parse_uint("12K", &v), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_mapped),
        cmocka_unit_test(test_sizes),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
