/* Adaptive connection count (lib/adaptive.c) on a simulated link, no
 * sleeps: a fake clock, and a rate that is either capped per connection
 * (grows with the count) or capped in total (does not). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../lib/adaptive.h"

/* Run `ms` of simulated time in 10 ms turns: every allowed connection busy
 * (when `busy`), the total rate given by rate(limit) in bytes/s. */
typedef uint64_t (*rate_fn)(unsigned conns);

static unsigned run(apx_adapt *a, uint64_t *now, uint64_t *rx, uint64_t ms,
                    rate_fn rate, int busy)
{
    unsigned lim = a->limit;
    uint64_t end = *now + ms;
    for (; *now < end; *now += 10) {
        unsigned active = busy ? lim : lim - 1;
        *rx += rate(active) / 100;
        lim = apx_adapt_tick(a, *now, active, *rx);
    }
    return lim;
}

static uint64_t per_conn_cap(unsigned c) { return (uint64_t)c * 25000000u; }
static uint64_t total_cap(unsigned c) { (void)c; return 200000000u; }
static uint64_t cap_at_12(unsigned c) { return (uint64_t)(c < 12 ? c : 12) * 25000000u; }

static void test_grows_under_a_per_connection_cap(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 16);
    assert_int_equal(a.limit, 8);
    assert_int_equal(run(&a, &now, &rx, 3000, per_conn_cap, 1), 16);
    assert_int_equal(a.peak, 16);
    /* and stays there while the rate holds */
    assert_int_equal(run(&a, &now, &rx, 5000, per_conn_cap, 1), 16);
}

static void test_steps_back_when_the_rate_is_flat(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 16);
    /* it probes (8 -> 12), sees no growth, comes back to 8 */
    run(&a, &now, &rx, 600, total_cap, 1);
    assert_int_equal(a.peak, 12);
    assert_int_equal(a.limit, 8);
    /* and over a long run it spends most windows at 8 */
    {
        unsigned at8 = 0, turns = 0, k;
        for (k = 0; k < 100; k++, turns++)
            at8 += run(&a, &now, &rx, 250, total_cap, 1) == 8;
        assert_true(at8 * 10 >= turns * 6);
    }
    assert_int_equal(a.peak, 12);
}

static void test_settles_where_the_rate_stops_growing(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 16);
    run(&a, &now, &rx, 3000, cap_at_12, 1);
    assert_int_equal(a.peak, 16);
    assert_int_equal(a.limit, 12);
}

/* The first ramp measures in short windows (APX_ADAPT_RAMP_MS): floor,
 * floor + 4, the cap after two of them; the later probes in long ones. */
static void test_first_ramp_in_short_windows(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 16);
    assert_int_equal(run(&a, &now, &rx, 2 * APX_ADAPT_RAMP_MS + 20,
                         per_conn_cap, 1), 16);
    /* flat: back after two short windows (a step that did not pay gets
     * a second window), then long windows */
    apx_adapt_init(&a, 8, 16);
    now = 1000;
    rx = 0;
    run(&a, &now, &rx, 3 * APX_ADAPT_RAMP_MS + 20, total_cap, 1);
    assert_int_equal(a.limit, 8);
    assert_int_equal(a.peak, 12);
    /* held for APX_ADAPT_HOLD long windows, the next probe a long one later */
    assert_int_equal(run(&a, &now, &rx, APX_ADAPT_HOLD * APX_ADAPT_WINDOW_MS,
                         total_cap, 1), 8);
    assert_int_equal(run(&a, &now, &rx, APX_ADAPT_WINDOW_MS + 20,
                         total_cap, 1), 12);
}

/* A step whose first window is below the bar (noise) but whose second
 * pays is kept. */
static int swing;
static uint64_t noisy_per_conn(unsigned c)
{
    /* the first window at 16 shows no more than 12 did */
    return (uint64_t)(c == 16 && swing-- > 0 ? 12 : c) * 25000000u;
}

static void test_one_bad_window_is_not_a_verdict(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 16);
    swing = APX_ADAPT_RAMP_MS / 10;   /* turns of one window */
    assert_int_equal(run(&a, &now, &rx, 5 * APX_ADAPT_RAMP_MS, noisy_per_conn, 1), 16);
    assert_int_equal(a.limit, 16);
}

static void test_learns_nothing_while_connections_idle(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 16);
    /* not every allowed connection busy (a tail, a backoff): no step */
    assert_int_equal(run(&a, &now, &rx, 5000, per_conn_cap, 0), 8);
    assert_int_equal(a.peak, 8);
}

static void test_fixed_count_never_moves(void **state)
{
    apx_adapt a;
    uint64_t now = 1000, rx = 0;
    (void)state;
    apx_adapt_init(&a, 8, 0);
    assert_int_equal(run(&a, &now, &rx, 5000, per_conn_cap, 1), 8);
    apx_adapt_init(&a, 4, 4);
    assert_int_equal(run(&a, &now, &rx, 5000, per_conn_cap, 1), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_under_a_per_connection_cap),
        cmocka_unit_test(test_steps_back_when_the_rate_is_flat),
        cmocka_unit_test(test_settles_where_the_rate_stops_growing),
        cmocka_unit_test(test_first_ramp_in_short_windows),
        cmocka_unit_test(test_one_bad_window_is_not_a_verdict),
        cmocka_unit_test(test_learns_nothing_while_connections_idle),
        cmocka_unit_test(test_fixed_count_never_moves),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
