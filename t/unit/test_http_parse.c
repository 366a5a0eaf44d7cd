/* HTTP parsing of the engine (lib/http_parse.c) without a server: good
 * inputs, hostile ones (overflow, missing fields, junk).
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "http_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *hv(const char *line, const char *name, char *buf,
                      size_t size)
{
    return apx_hdr_value(line, strlen(line), name, buf, size);
}

static void test_hdr_value(void **state)
{
    char b[32];
    (void)state;
    assert_string_equal(hv("Content-Length: 42\r\n", "Content-Length", b, sizeof b), "42");
    /* case-insensitive name, blanks around the value trimmed */
    assert_string_equal(hv("content-length:\t 42 \t\r\n", "Content-Length", b, sizeof b), "42");
    assert_string_equal(hv("ETag: \"abc\"\r\n", "etag", b, sizeof b), "\"abc\"");
    /* an empty value */
    assert_string_equal(hv("ETag:\r\n", "ETag", b, sizeof b), "");
    /* another header, a prefix of the name, no colon, a space before it */
    assert_null(hv("Content-Range: bytes 0-1/2\r\n", "Content-Length", b, sizeof b));
    assert_null(hv("Content-Lengthy: 4\r\n", "Content-Length", b, sizeof b));
    assert_null(hv("Content-Length 4\r\n", "Content-Length", b, sizeof b));
    assert_null(hv("Content-Length : 4\r\n", "Content-Length", b, sizeof b));
    assert_null(hv("Content-Length", "Content-Length", b, sizeof b));
    assert_null(hv("", "ETag", b, sizeof b));
    /* a value longer than the buffer is cut, NUL-terminated */
    {
        char line[200], small[8];
        memset(line, 0, sizeof line);
        strcpy(line, "X-Long: ");
        memset(line + 8, 'a', 150);
        strcat(line, "\r\n");
        assert_string_equal(hv(line, "X-Long", small, sizeof small), "aaaaaaa");
    }
    /* the line's length, not a NUL, bounds it */
    assert_string_equal(apx_hdr_value("ETag: \"x\"JUNK", 9, "ETag", b, sizeof b), "\"x\"");
}

static void test_parse_u64(void **state)
{
    uint64_t v = 7;
    const char *end = NULL;
    (void)state;
    assert_int_equal(apx_parse_u64("123abc", &end, &v), 0);
    assert_true(v == 123);
    assert_string_equal(end, "abc");
    assert_int_equal(apx_parse_u64("18446744073709551615", &end, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_string_equal(end, "");
    /* overflow, no digit, a sign, blanks */
    v = 7;
    assert_int_equal(apx_parse_u64("18446744073709551616", &end, &v), -1);
    assert_int_equal(apx_parse_u64("99999999999999999999999", NULL, &v), -1);
    assert_int_equal(apx_parse_u64("", NULL, &v), -1);
    assert_int_equal(apx_parse_u64("-1", NULL, &v), -1);
    assert_int_equal(apx_parse_u64("+1", NULL, &v), -1);
    assert_int_equal(apx_parse_u64(" 1", NULL, &v), -1);
    assert_true(v == 7); /* untouched on failure */
    assert_int_equal(apx_parse_u64("0", NULL, &v), 0);
    assert_true(v == 0);
}

static void test_content_range(void **state)
{
    uint64_t s, e, t;
    (void)state;
    assert_int_equal(apx_parse_content_range("bytes 0-99/100", &s, &e, &t), 0);
    assert_true(s == 0 && e == 99 && t == 100);
    assert_int_equal(apx_parse_content_range("BYTES  5-5/6", &s, &e, &t), 0);
    assert_true(s == 5 && e == 5 && t == 6);
    /* unknown total, unsatisfied range */
    assert_int_equal(apx_parse_content_range("bytes 0-9/*", &s, &e, &t), 0);
    assert_true(s == 0 && e == 9 && t == APX_UNK);
    assert_int_equal(apx_parse_content_range("bytes */1000", &s, &e, &t), 0);
    assert_true(s == APX_UNK && e == APX_UNK && t == 1000);
    /* the largest total */
    assert_int_equal(apx_parse_content_range("bytes 0-0/18446744073709551615", &s, &e, &t), 0);
    assert_true(t == UINT64_MAX);
    /* hostile or malformed */
    assert_int_equal(apx_parse_content_range("bytes 0-99/99", &s, &e, &t), -1);   /* end past total */
    assert_int_equal(apx_parse_content_range("bytes 9-1/100", &s, &e, &t), -1);   /* end before start */
    assert_int_equal(apx_parse_content_range("bytes 0-99", &s, &e, &t), -1);      /* no total */
    assert_int_equal(apx_parse_content_range("bytes 0-/100", &s, &e, &t), -1);    /* no end */
    assert_int_equal(apx_parse_content_range("bytes -5/100", &s, &e, &t), -1);    /* no start */
    assert_int_equal(apx_parse_content_range("bytes 0-9/100x", &s, &e, &t), -1);  /* junk after */
    assert_int_equal(apx_parse_content_range("bytes 0-9/*x", &s, &e, &t), -1);
    assert_int_equal(apx_parse_content_range("bytes 0-9/", &s, &e, &t), -1);
    assert_int_equal(apx_parse_content_range("items 0-9/100", &s, &e, &t), -1);   /* unit */
    assert_int_equal(apx_parse_content_range("", &s, &e, &t), -1);
    assert_int_equal(apx_parse_content_range("bytes 0-18446744073709551616/1", &s, &e, &t), -1);
    assert_int_equal(apx_parse_content_range("bytes 0-1/18446744073709551616", &s, &e, &t), -1);
}

static void test_retry_after(void **state)
{
    char date[64];
    time_t later = time(NULL) + 3600;
    struct tm tm;
    uint64_t ms;
    (void)state;
    assert_true(apx_parse_retry_after("0") == 0);
    assert_true(apx_parse_retry_after("120") == 120000);
    /* huge seconds: capped, no overflow */
    assert_true(apx_parse_retry_after("99999999999") == (uint64_t)UINT32_MAX * 1000);
    assert_true(apx_parse_retry_after("999999999999999999999999") == 0);
    /* an HTTP date an hour ahead; one in the past; junk */
    gmtime_r(&later, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    ms = apx_parse_retry_after(date);
    assert_true(ms > 3500u * 1000u && ms <= 3600u * 1000u);
    assert_true(apx_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0);
    assert_true(apx_parse_retry_after("soon") == 0);
    assert_true(apx_parse_retry_after("") == 0);
    assert_true(apx_parse_retry_after("-5") == 0);
    assert_true(apx_parse_retry_after("12s") == 0);
}

static void test_etag(void **state)
{
    (void)state;
    assert_true(apx_is_strong_etag("\"abc\""));
    assert_false(apx_is_strong_etag("W/\"abc\""));
    assert_false(apx_is_strong_etag(""));
    assert_false(apx_is_strong_etag(NULL));
}

static void test_hosts_and_origins(void **state)
{
    char *h;
    (void)state;
    h = apx_url_host("https://Hub.Example.COM/path?q=1", 0);
    assert_string_equal(h, "hub.example.com");
    free(h);
    h = apx_url_host("https://hub.example.com/path", 1);
    assert_string_equal(h, "hub.example.com:443");
    free(h);
    h = apx_url_host("http://127.0.0.1:8080/x", 1);
    assert_string_equal(h, "127.0.0.1:8080");
    free(h);
    assert_null(apx_url_host("not a url", 0));
    assert_null(apx_url_host("", 1));

    h = apx_url_origin("HTTPS://User:pw@Hub.example.com/a/b?c#d");
    assert_string_equal(h, "https://hub.example.com:443");
    free(h);
    h = apx_url_origin("http://hub.example.com:8000");
    assert_string_equal(h, "http://hub.example.com:8000");
    free(h);
    assert_null(apx_url_origin("::junk::"));

    assert_true(apx_host_matches("https://a.example/x", "A.example"));
    assert_true(apx_host_matches("https://a.example/x", "a.example:443"));
    assert_false(apx_host_matches("https://a.example/x", "a.example:8443"));
    assert_false(apx_host_matches("http://a.example.evil/x", "a.example"));
    assert_false(apx_host_matches(NULL, "a.example"));
    assert_false(apx_host_matches("https://a.example/x", NULL));
    assert_false(apx_host_matches("junk", "a.example"));

    assert_true(apx_hostcmp("A.B", "a.b"));
    assert_false(apx_hostcmp("a.b", "a.bc"));
    assert_false(apx_hostcmp(NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdr_value),
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_content_range),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_hosts_and_origins),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
