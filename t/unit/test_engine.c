/* Engine tests against t/fixtures/fakehub.py (fault injection): parallel
 * transfers, retries, integrity, resume, cancel, free space, tokens.  The
 * hostile-server tests are in test_engine_hostile.c; the shared fixture in
 * engine_fixture.h.  SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine_fixture.h"

/* ---- tests -------------------------------------------------------------- */

static void test_basic_parallel(void **state)
{
    run r;
    (void)state;
    run_init(&r, "basic");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    assert_int_equal(r.f.bytes_fetched, 2000003);
    /* parallel ranges were used */
    assert_true(log_count("/files/basic\"", "bytes=262144-524287") == 1);
    assert_true(log_count("/files/basic\"", "\"status\":206") >= 7);
    assert_true(log_count("/files/basic\"", "\"accept-encoding\":\"identity\"")
                >= 7);
    {
        char sp[600];
        assert_false(exists(state_path(&r, sp, sizeof sp)));
    }
}

static void test_small_and_empty(void **state)
{
    run r;
    (void)state;
    run_init(&r, "small");
    r.f.size = 1000;
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    run_init(&r, "empty");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    assert_int_equal(r.f.size_out, 0);
}

static void test_git_sha1(void **state)
{
    run r;
    (void)state;
    run_init(&r, "small");
    /* echo -n data | git hash-object --stdin, computed in-test */
    {
        const fx_spec *s = spec_of("small");
        apx_digest *d = apx_digest_new(APX_SHA1);
        char hdr[32], hex[41];
        int n = snprintf(hdr, sizeof hdr, "blob %llu",
                         (unsigned long long)s->size);
        unsigned char *buf = malloc(s->size);
        int fd;
        /* take the bytes from a first verified download */
        r.f.sha256 = r.want;
        run_go(&r);
        assert_int_equal(r.rc, AP_OK);
        fd = open(r.staging, O_RDONLY);
        assert_int_equal(read(fd, buf, s->size), (ssize_t)s->size);
        close(fd);
        apx_digest_update(d, hdr, (size_t)n + 1);
        apx_digest_update(d, buf, s->size);
        apx_digest_final_hex(d, hex);
        apx_digest_free(d);
        free(buf);
        run_init(&r, "small");
        r.f.git_sha1 = hex;
        run_go(&r);
        assert_file_ok(&r);
        run_init(&r, "small");
        r.f.git_sha1 = "0000000000000000000000000000000000000000";
        run_go(&r);
        assert_int_equal(r.rc, AP_EDIGEST);
        assert_non_null(strstr(r.err.msg, "git sha1 mismatch"));
    }
}

static void test_drop_resumes_remainder(void **state)
{
    run r;
    (void)state;
    run_init(&r, "drop");
    r.f.sha256 = r.want;
    r.f.size = 2 * 1024 * 1024;
    run_go(&r);
    assert_file_ok(&r);
    /* only the remainder of the dropped range was fetched again */
    assert_int_equal(r.f.bytes_fetched, 2 * 1024 * 1024);
    assert_int_equal(log_count("/files/drop\"", "\"range\":\"bytes=1500000-"),
                     1);
}

static void test_stall_retried(void **state)
{
    run r;
    ap_tracker *tr = NULL;
    ap_tracker_options to = AP_TRACKER_OPTIONS_INIT;
    (void)state;
    to.sink = sink;
    to.heartbeat_ms = 100;
    assert_int_equal(ap_tracker_new(&tr, 42, "test", &to), AP_OK);
    g_retries = g_heartbeats = 0;
    run_init(&r, "stall");
    r.f.sha256 = r.want;
    r.o.stall_timeout_ms = 300;
    r.o.tracker = tr;
    run_go(&r);
    assert_file_ok(&r);
    assert_true(r.ms < 4000); /* server stalls 6 s */
    assert_true(g_retries >= 1);
    assert_non_null(strstr(g_retry_msg, "no data for"));
    assert_non_null(strstr(g_retry_msg, "retrying range"));
    assert_true(g_heartbeats >= 1);
    ap_tracker_free(tr);
}

static void test_503_retry_after(void **state)
{
    run r;
    (void)state;
    run_init(&r, "s503");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    assert_true(r.ms >= 1800); /* Retry-After: 1, twice */
    assert_int_equal(log_count("/files/s503\"", "\"status\":503"), 2);
}

static void test_429_gives_up(void **state)
{
    run r;
    char want[600];
    (void)state;
    run_init(&r, "a429");
    r.o.max_attempts = 3;
    run_go(&r);
    assert_int_equal(r.rc, AP_ERATELIMIT);
    snprintf(want, sizeof want, "%s: HTTP 429 after 3 attempts", r.url);
    assert_string_equal(r.err.msg, want);
    run_init(&r, "a503");
    r.o.max_attempts = 2;
    run_go(&r);
    assert_int_equal(r.rc, AP_EHTTP);
    snprintf(want, sizeof want, "%s: HTTP 503 after 2 attempts", r.url);
    assert_string_equal(r.err.msg, want);
}

static void test_wrong_length(void **state)
{
    run r;
    (void)state;
    run_init(&r, "wronglen1");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    run_init(&r, "wronglen");
    r.o.max_attempts = 2;
    run_go(&r);
    assert_int_equal(r.rc, AP_ESIZE);
    assert_non_null(strstr(r.err.msg, "truncated"));
    run_init(&r, "trunc");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
}

static void test_corrupt_digest(void **state)
{
    run r;
    char sp[600], want[300];
    (void)state;
    run_init(&r, "corrupt");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_int_equal(r.rc, AP_EDIGEST);
    snprintf(want, sizeof want, "corrupt: sha256 mismatch (want %s, got ",
             r.want);
    assert_memory_equal(r.err.msg, want, strlen(want));
    assert_false(exists(r.staging));
    assert_false(exists(state_path(&r, sp, sizeof sp)));
}

static void test_200_instead_of_206(void **state)
{
    run r;
    (void)state;
    run_init(&r, "ignrange");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    run_init(&r, "noranges");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    /* no ranges and a drop: restart from zero, still correct */
    run_init(&r, "dropnr");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
}

static void test_bad_content_range(void **state)
{
    run r;
    (void)state;
    run_init(&r, "badcr");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
}

static void test_chunked_unknown_size(void **state)
{
    run r;
    (void)state;
    run_init(&r, "chunked");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
}

static void test_redirect_loop_and_404(void **state)
{
    run r;
    char u[600];
    (void)state;
    run_init(&r, "loop");
    snprintf(r.url, sizeof r.url, "%s/loop/a", FH.files);
    run_go(&r);
    assert_int_equal(r.rc, AP_EHTTP);
    assert_non_null(strstr(r.err.msg, "too many redirects"));
    snprintf(u, sizeof u, "%s/loop/a:", FH.files);
    assert_memory_equal(r.err.msg, u, strlen(u));
    run_init(&r, "nope");
    run_go(&r);
    assert_int_equal(r.rc, AP_ENOTFOUND);
    assert_non_null(strstr(r.err.msg, "HTTP 404"));
    assert_non_null(strstr(r.err.msg, "/files/nope"));
    /* same-host redirect is followed */
    run_init(&r, "small");
    snprintf(r.url, sizeof r.url, "%s/files/redirect/small", FH.files);
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
}

static void test_resume_after_failure(void **state)
{
    run r;
    char sp[600];
    (void)state;
    run_init(&r, "resume");
    r.f.sha256 = r.want;
    r.o.max_attempts = 1;
    r.o.connections_per_file = 2;
    run_go(&r);
    /* the drop is a body shorter than its Content-Length */
    assert_int_equal(r.rc, AP_ESIZE);
    assert_non_null(strstr(r.err.msg, "after 1 attempt"));
    assert_true(exists(r.staging));
    assert_true(exists(state_path(&r, sp, sizeof sp)));
    run_init(&r, "resume");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    fprintf(stderr, "# resume: refetched %llu of %llu bytes\n",
            (unsigned long long)r.f.bytes_fetched,
            (unsigned long long)spec_of("resume")->size);
    assert_true(r.f.bytes_fetched < spec_of("resume")->size / 2);
    /* the resumed request names the validator-bound ETag */
    assert_true(log_count("/files/resume\"", "\"if-range\"") >= 1);
}

static void test_validator_change_restarts(void **state)
{
    run r;
    (void)state;
    run_init(&r, "valch");
    r.f.validator = "v1";
    r.o.max_attempts = 1;
    run_go(&r);
    /* the drop is a body shorter than its Content-Length */
    assert_int_equal(r.rc, AP_ESIZE);
    assert_non_null(strstr(r.err.msg, "after 1 attempt"));
    run_init(&r, "valch");
    r.f.validator = "v2";
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    assert_int_equal(r.f.bytes_fetched, spec_of("valch")->size);
}

static void test_resume_size_change_restarts(void **state)
{
    run r;
    char sp[600];
    FILE *fp;
    (void)state;
    run_init(&r, "resume2");
    r.o.max_attempts = 1;
    run_go(&r);
    /* the drop is a body shorter than its Content-Length */
    assert_int_equal(r.rc, AP_ESIZE);
    assert_non_null(strstr(r.err.msg, "after 1 attempt"));
    /* pretend the previous run saw another total size: restart */
    fp = fopen(state_path(&r, sp, sizeof sp), "w");
    fprintf(fp, "{\"version\":1,\"validator\":null,\"etag\":null,"
                "\"size\":4000000,\"done\":[[0,262144]]}");
    fclose(fp);
    run_init(&r, "resume2");
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    assert_int_equal(r.f.bytes_fetched, spec_of("resume2")->size);
}

static ap_cancel_token *g_tok;
static uint64_t g_cancel_at;

/* Cancel once the transfer has written data (arg: the staging path), so
 * the server has announced the size and the file is resumable -- a file
 * cancelled before its first byte has nothing worth keeping and is
 * removed -- then 400 ms later, mid-transfer. */
static void *cancel_later(void *arg)
{
    const char *staging = arg;
    struct stat st;
    unsigned i;
    for (i = 0; i < 2000; i++) {
        if (stat(staging, &st) == 0 && st.st_size > 0)
            break;
        usleep(5 * 1000);
    }
    usleep(400 * 1000);
    g_cancel_at = apx_now_ms();
    ap_cancel(g_tok);
    return NULL;
}

static void test_cancel(void **state)
{
    run r;
    pthread_t th;
    uint64_t end;
    (void)state;
    g_tok = ap_cancel_token_new();
    run_init(&r, "slow");
    r.o.cancel = g_tok;
    pthread_create(&th, NULL, cancel_later, r.staging);
    run_go(&r);
    end = apx_now_ms();
    pthread_join(th, NULL);
    assert_int_equal(r.rc, AP_ECANCELLED);
    assert_int_equal(r.f.status, AP_ECANCELLED);
    fprintf(stderr, "# cancel latency %llu ms\n",
            (unsigned long long)(end - g_cancel_at));
    assert_true(end - g_cancel_at < 200);
    assert_true(exists(r.staging));
    /* drop_partial removes the staging data */
    ap_cancel_reset(g_tok);
    run_init(&r, "slow2");
    r.o.cancel = g_tok;
    r.o.drop_partial = 1;
    pthread_create(&th, NULL, cancel_later, r.staging);
    run_go(&r);
    end = apx_now_ms();
    pthread_join(th, NULL);
    assert_int_equal(r.rc, AP_ECANCELLED);
    assert_true(end - g_cancel_at < 200);
    assert_false(exists(r.staging));
    ap_cancel_token_free(g_tok);
}

static void test_free_space(void **state)
{
    run r;
    (void)state;
    run_init(&r, "basic");
    snprintf(r.staging, sizeof r.staging, "%s/staging/huge.part", FH.dir);
    r.f.size = (uint64_t)1 << 60;
    run_go(&r);
    assert_int_equal(r.rc, AP_ENOSPC);
    assert_non_null(strstr(r.err.msg, "need 1152921504606846976 bytes"));
    assert_non_null(strstr(r.err.msg, "available"));
}

static void test_many_files(void **state)
{
    static const char *names[] = { "m0", "m1", "m2", "m3", "m4", "basic" };
    enum { N = sizeof names / sizeof names[0] };
    apx_fetch_file f[N];
    char urls[N][512], st[N][512], want[N][65];
    apx_fetch_opts o;
    apx_error err;
    size_t i;
    (void)state;
    memset(&o, 0, sizeof o);
    memset(f, 0, sizeof f);
    o.max_connections = 4;
    o.connections_per_file = 2;
    o.chunk_size = 256 * KB;
    for (i = 0; i < N; i++) {
        snprintf(urls[i], sizeof urls[i], "%s/files/%s", FH.files, names[i]);
        snprintf(st[i], sizeof st[i], "%s/many/%s", FH.dir, names[i]);
        fx_expected_sha(spec_of(names[i]), want[i]);
        f[i].label = names[i];
        f[i].url = urls[i];
        f[i].staging_path = st[i];
        f[i].size = spec_of(names[i])->size;
        f[i].sha256 = want[i];
    }
    assert_int_equal(apx_fetch(&o, f, N, &err), AP_OK);
    for (i = 0; i < N; i++) {
        char hex[65];
        assert_int_equal(f[i].status, AP_OK);
        assert_int_equal(apx_sha256_file(st[i], hex, NULL), AP_OK);
        assert_string_equal(hex, want[i]);
    }
}

static void test_bearer_not_forwarded(void **state)
{
    run r;
    char host[128];
    const char *p;
    int before_cdn, before_hub;
    (void)state;
    run_init(&r, "w.bin");
    snprintf(r.url, sizeof r.url, "%s/org/m/resolve/main/w.bin", FH.hub);
    p = strstr(FH.hub, "://") + 3;
    snprintf(host, sizeof host, "%.*s", (int)strcspn(p, ":/"), p);
    r.f.bearer = "tok";
    r.f.bearer_host = host; /* 127.0.0.1; the CDN is 127.0.0.2 */
    before_cdn = log_count("\"server\":\"cdn\"", "authorization");
    before_hub = log_count("\"server\":\"hub\"", "\"authorization\":\"Bearer tok\"");
    run_go(&r);
    assert_int_equal(r.rc, AP_OK);
    assert_int_equal(r.f.size_out, 300000);
    assert_int_equal(log_count("\"server\":\"cdn\"", "authorization"),
                     before_cdn);
    assert_true(log_count("\"server\":\"hub\"",
                          "\"authorization\":\"Bearer tok\"") > before_hub);
    /* 401 from a private repo without token */
    run_init(&r, "a.txt");
    snprintf(r.url, sizeof r.url, "%s/org/priv/resolve/main/a.txt", FH.hub);
    run_go(&r);
    assert_int_equal(r.rc, AP_EAUTH);
    assert_non_null(strstr(r.err.msg, "HTTP 401"));
}

static void test_http_simple(void **state)
{
    apx_http_result res;
    apx_error err;
    char url[512];
    const char *hdrs[] = { "X-Test: 1", NULL };
    int before;
    (void)state;
    snprintf(url, sizeof url, "%s/org/m/resolve/main/w.bin", FH.hub);
    /* HEAD without following: the 302 and its headers as they are */
    assert_int_equal(apx_http_simple("HEAD", url, hdrs, "tok", 0, 0, NULL,
                                     NULL, &res, &err), AP_OK);
    assert_int_equal(res.status, 302);
    assert_non_null(apx_http_result_header(&res, "x-linked-etag"));
    assert_non_null(apx_http_result_header(&res, "X-Linked-Size"));
    assert_string_equal(apx_http_result_header(&res, "X-Linked-Size"),
                        "300000");
    assert_non_null(apx_http_result_header(&res, "location"));
    apx_http_result_clear(&res);
    /* GET following to the CDN: bearer and extra headers dropped there */
    before = log_count("\"server\":\"cdn\"", "authorization");
    assert_int_equal(apx_http_simple("GET", url, hdrs, "tok", 1, 1 << 20,
                                     NULL, NULL, &res, &err), AP_OK);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body_len, 300000);
    assert_non_null(strstr(res.url, FH.cdn));
    assert_int_equal(log_count("\"server\":\"cdn\"", "authorization"), before);
    assert_int_equal(log_count("\"server\":\"cdn\"", "x-test"), 0);
    apx_http_result_clear(&res);
    /* body limit */
    assert_int_equal(apx_http_simple("GET", url, NULL, "tok", 1, 1000, NULL,
                                     NULL, &res, &err), AP_ESIZE);
    /* redirect loop */
    snprintf(url, sizeof url, "%s/loop/a", FH.files);
    assert_int_equal(apx_http_simple("GET", url, NULL, NULL, 1, 0, NULL,
                                     NULL, &res, &err), AP_EHTTP);
    assert_non_null(strstr(err.msg, "too many redirects"));
    assert_non_null(strstr(err.msg, "/loop/a"));
    /* 404 is a response, not an error */
    snprintf(url, sizeof url, "%s/files/nope", FH.files);
    assert_int_equal(apx_http_simple("GET", url, NULL, NULL, 1, 0, NULL,
                                     NULL, &res, &err), AP_OK);
    assert_int_equal(res.status, 404);
    apx_http_result_clear(&res);
    /* cancelled token: at once */
    {
        ap_cancel_token *t = ap_cancel_token_new();
        ap_cancel(t);
        assert_int_equal(apx_http_simple("GET", url, NULL, NULL, 1, 0, t,
                                         NULL, &res, &err), AP_ECANCELLED);
        ap_cancel_token_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_parallel),
        cmocka_unit_test(test_small_and_empty),
        cmocka_unit_test(test_git_sha1),
        cmocka_unit_test(test_drop_resumes_remainder),
        cmocka_unit_test(test_stall_retried),
        cmocka_unit_test(test_503_retry_after),
        cmocka_unit_test(test_429_gives_up),
        cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_corrupt_digest),
        cmocka_unit_test(test_200_instead_of_206),
        cmocka_unit_test(test_bad_content_range),
        cmocka_unit_test(test_chunked_unknown_size),
        cmocka_unit_test(test_redirect_loop_and_404),
        cmocka_unit_test(test_resume_after_failure),
        cmocka_unit_test(test_validator_change_restarts),
        cmocka_unit_test(test_resume_size_change_restarts),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_free_space),
        cmocka_unit_test(test_many_files),
        cmocka_unit_test(test_bearer_not_forwarded),
        cmocka_unit_test(test_http_simple),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, server_up, server_down);
}
