/* The classification of a finished engine transfer (lib/outcome.c): what
 * each combination of curl result, HTTP status, validation and stall
 * means, without a server.
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "outcome.h"

/* A ranged transfer of [0, 100) of a 1000-byte file that got 40 bytes. */
static apx_xfer_facts base(void)
{
    apx_xfer_facts in;
    memset(&in, 0, sizeof in);
    in.rc = CURLE_OK;
    in.why = "";
    in.status = 206;
    in.validated = 1;
    in.first_url = "http://h/first";
    in.cr_total = UNK;
    in.min_rate = 1024;
    in.min_rate_window_ms = 60000;
    in.stall_timeout_ms = 30000;
    in.start = 0;
    in.got = 40;
    in.end = 100;
    in.mode = M_RANGED;
    in.total = 1000;
    in.expect = 1000;
    return in;
}

static apx_outcome classify(const apx_xfer_facts *in)
{
    apx_outcome o;
    apx_outcome_classify(in, &o);
    return o;
}

static void test_dropped_does_nothing(void **state)
{
    apx_xfer_facts in = base();
    (void)state;
    in.dropped = 1;
    in.reason = R_ENOSPC; /* a killed transfer's reason is not its file's */
    assert_int_equal(classify(&in).kind, OUT_DROP);
}

static void test_callback_reasons(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.reason = R_ENOSPC;
    in.why = "disk full";
    o = classify(&in);
    assert_int_equal(o.kind, OUT_NOSPACE);
    assert_int_equal(o.status, AP_ENOSPC);
    assert_string_equal(o.msg, "disk full");
    in.reason = R_TOOBIG;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_int_equal(o.status, AP_ESIZE);
    assert_int_equal(o.sync, 0);
    in.reason = R_USER;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_ABORT);
    assert_int_equal(o.status, AP_EUSER);
    in.reason = R_SIZE;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.status, AP_ESIZE);
}

static void test_bad_ranges_fall_back_then_retry(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.reason = R_BADRANGE;
    in.why = "206 without a usable Content-Range";
    o = classify(&in);
    assert_int_equal(o.kind, OUT_NO_RANGES);
    assert_string_equal(o.msg, "206 without a usable Content-Range; falling "
                               "back to one stream without ranges");
    in.ranges_broken = 1;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.status, AP_EPROTOCOL);
}

static void test_content_change_restarts_until_the_limit(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.reason = R_RESET;
    in.why = "the resource changed";
    in.resets = MAX_RESETS - 1;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RESTART);
    assert_string_equal(o.msg, "the resource changed; restarting from byte 0");
    in.resets = MAX_RESETS;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_int_equal(o.status, AP_EPROTOCOL);
    assert_int_equal(o.by, BY_URL);
    assert_string_equal(o.msg, "the resource changed (4 times)");
}

static void test_redirects(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.status = 302;
    in.redirect = 1;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_string_equal(o.msg, "HTTP 302 without a Location");
    in.location = "http://u:secret@h/next?sig=1";
    o = classify(&in);
    assert_int_equal(o.kind, OUT_REDIRECT);
    in.redirects = MAX_REDIRECTS;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_int_equal(o.status, AP_EHTTP);
    assert_int_equal(o.by, BY_FIRST_URL);
    assert_non_null(strstr(o.msg, "too many redirects"));
    assert_null(strstr(o.msg, "secret")); /* the Location is redacted */
    assert_null(strstr(o.msg, "sig=1"));
}

static void test_http_statuses(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.status = 404;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_int_equal(o.status, AP_ENOTFOUND);
    assert_string_equal(o.msg, "HTTP 404");
    in.status = 403;
    assert_int_equal(classify(&in).status, AP_EAUTH);
    in.ratelimited = 1; /* GitHub's rate limit: waited out like a 429 */
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.http, 429);
    in.ratelimited = 0;
    in.status = 503;
    in.retry_after_ms = 2000;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.http, 503);
    assert_true(o.retry_after_ms == 2000);
    assert_string_equal(o.msg, "HTTP 503");
    in.status = 204; /* a status the engine cannot use */
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_int_equal(o.status, AP_EHTTP);
}

static void test_416(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.status = 416;
    in.mode = M_PROBE;
    in.total = UNK;
    in.cr_total = 40; /* the entity ends where the range stands */
    in.expect = UNK;
    assert_int_equal(classify(&in).kind, OUT_NOTHING_LEFT);
    in.expect = 50;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.status, AP_ESIZE);
    in.cr_total = 30; /* elsewhere: restart, while resets remain */
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RESTART);
    assert_string_equal(o.msg, "range not satisfiable: restarting");
    in.resets = MAX_RESETS;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_string_equal(o.msg, "HTTP 416");
}

static void test_body_ends(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.got = 100;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RANGE_DONE);
    assert_int_equal(o.clear_redirects, 1);
    in.got = 40;
    in.end = UNK;
    assert_int_equal(classify(&in).kind, OUT_BODY_END);
    in.rc = CURLE_PARTIAL_FILE;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_string_equal(o.msg, "connection closed after 40 bytes of a body "
                               "of unknown length");
    in.end = 100;
    o = classify(&in);
    assert_string_equal(o.msg, "truncated body: got 40 of 100 bytes");
}

static void test_stalls_and_network(void **state)
{
    apx_xfer_facts in = base();
    apx_outcome o;
    (void)state;
    in.rc = CURLE_OPERATION_TIMEDOUT;
    in.stalled = 1;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.fresh, 1);
    assert_string_equal(o.msg, "no data for 30.0 s");
    in.slow = 1;
    in.slow_bytes = 5;
    o = classify(&in);
    assert_string_equal(o.msg, "slower than 1024 bytes/s over 60.0 s (5 bytes)");
    in.stalled = in.slow = 0;
    in.rc = CURLE_PEER_FAILED_VERIFICATION;
    in.why = "bad cert";
    o = classify(&in);
    assert_int_equal(o.kind, OUT_FAIL);
    assert_int_equal(o.status, AP_ENETWORK);
    assert_string_equal(o.msg, "TLS: bad cert");
    in.rc = CURLE_OUT_OF_MEMORY;
    in.validated = 0;
    in.status = 0;
    o = classify(&in);
    assert_int_equal(o.status, AP_EPROTOCOL);
    in.rc = CURLE_COULDNT_CONNECT;
    o = classify(&in);
    assert_int_equal(o.kind, OUT_RETRY);
    assert_int_equal(o.status, AP_ENETWORK);
    assert_int_equal(o.fresh, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropped_does_nothing),
        cmocka_unit_test(test_callback_reasons),
        cmocka_unit_test(test_bad_ranges_fall_back_then_retry),
        cmocka_unit_test(test_content_change_restarts_until_the_limit),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_http_statuses),
        cmocka_unit_test(test_416),
        cmocka_unit_test(test_body_ends),
        cmocka_unit_test(test_stalls_and_network),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
