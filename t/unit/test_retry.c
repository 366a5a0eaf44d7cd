/* The retry policy shared by the engine and the small-request client
 * (lib/retry.c): which statuses are tried again, the backoff delays.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "retry.h"

static void test_retryable_statuses(void **state)
{
    static const long yes[] = {408, 429, 500, 501, 502, 503, 504, 505, 599};
    static const long no[] = {0, 100, 200, 206, 301, 304, 400, 401, 403, 404,
                              407, 410, 416, 428, 430, 451, 499};
    size_t i;
    (void)state;
    for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(apx_http_status_retryable(yes[i]));
    for (i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(apx_http_status_retryable(no[i]));
}

static void test_backoff_doubles_with_jitter_and_a_cap(void **state)
{
    uint64_t rng = 0x9E3779B97F4A7C15ull, d;
    unsigned attempt, k;
    (void)state;
    for (k = 0; k < 200; k++) {
        for (attempt = 1; attempt <= 12; attempt++) {
            uint64_t nominal = 250u;
            unsigned i;
            for (i = 1; i < attempt && nominal < 60000; i++)
                nominal *= 2;
            if (nominal > 60000)
                nominal = 60000;
            d = apx_backoff_ms(&rng, 250, attempt);
            /* within +-25 % of base * 2^(attempt-1), capped at 60 s */
            assert_true(d >= nominal - nominal / 4);
            assert_true(d <= nominal - nominal / 4 + nominal / 2);
        }
    }
    /* a base of 0: no delay; the state moves on (jitter is drawn) */
    assert_true(apx_backoff_ms(&rng, 0, 3) == 0);
    d = apx_backoff_ms(&rng, 1000, 1);
    assert_true(d >= 750 && d <= 1250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retryable_statuses),
        cmocka_unit_test(test_backoff_doubles_with_jitter_and_a_cap),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
