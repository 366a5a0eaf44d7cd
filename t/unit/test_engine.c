/* Engine tests against t/fixtures/fakehub.py (fault injection).
 * SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "digest.h"
#include "engine.h"
#include "http_client.h"
#include "fakehub_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static fakehub FH;

#define KB 1024u

/* name, size, seed, faults JSON (or NULL) */
static const fx_spec SPECS[] = {
    { "basic", 2000003, 1, NULL },
    { "small", 1000, 2, NULL },
    { "empty", 0, 3, NULL },
    { "drop", 2 * 1024 * 1024, 4, "{\"drop_at\": 1500000, \"times\": 1}" },
    { "stall", 1024 * 1024, 5,
      "{\"stall_at\": 600000, \"stall_secs\": 6, \"times\": 1}" },
    { "s503", 600000, 6, "{\"status\": 503, \"retry_after\": 1, \"times\": 2}" },
    { "a429", 600000, 7, "{\"status\": 429, \"retry_after\": 0}" },
    { "a503", 600000, 8, "{\"status\": 503}" },
    { "wronglen1", 700000, 9, "{\"wrong_length\": true, \"times\": 1}" },
    { "wronglen", 700000, 10, "{\"wrong_length\": true, \"no_ranges\": true}" },
    { "corrupt", 1000000, 11, "{\"corrupt_at\": 777777}" },
    { "ignrange", 1500000, 12, "{\"ignore_range\": true}" },
    { "badcr", 1500000, 13, "{\"bad_content_range\": true}" },
    { "resume", 3 * 1024 * 1024, 14, "{\"drop_at\": 2000000, \"times\": 1}" },
    { "valch", 2 * 1024 * 1024, 15, "{\"drop_at\": 1200000, \"times\": 1}" },
    { "slow", 4 * 1024 * 1024, 16, "{\"throttle_bps\": 1000000}" },
    { "slow2", 4 * 1024 * 1024, 17, "{\"throttle_bps\": 1000000}" },
    { "m0", 300000, 20, NULL },
    { "m1", 1300000, 21, NULL },
    { "m2", 1, 22, NULL },
    { "m3", 900001, 23, NULL },
    { "m4", 2200000, 24, NULL },
    { "chunked", 800000, 25, "{\"no_ranges\": true, \"no_length\": true}" },
    { "trunc", 1200000, 26, "{\"truncate_to\": 100000, \"times\": 2}" },
    { "noranges", 1200000, 27, "{\"no_ranges\": true}" },
    { "dropnr", 1200000, 28,
      "{\"no_ranges\": true, \"drop_at\": 500000, \"times\": 1}" },
    { "resume2", 3 * 1024 * 1024, 29, "{\"drop_at\": 1000000, \"times\": 1}" },
    /* hostile servers (issue 8) */
    { "hugetot", 1024 * 1024, 30, "{\"fake_total\": 1125899906842624}" },
    { "hugelen", 1024 * 1024, 31,
      "{\"no_ranges\": true, \"fake_total\": 1125899906842624}" },
    { "endless", 100000, 32, "{\"endless\": true}" },
    { "nrdrop", 600000, 33,
      "{\"no_ranges\": true, \"no_length\": true, \"drop_at\": 100000}" },
    { "trickle", 5000, 34, "{\"trickle\": 0.2}" },
    { "capped", 600000, 35, NULL },
    { "planted", 300000, 36, NULL },
};
#define NSPECS (sizeof SPECS / sizeof SPECS[0])

static const fx_spec *spec_of(const char *name)
{
    return fx_spec_of(SPECS, NSPECS, name);
}

static int server_up(void **state)
{
    (void)state;
    ap_global_init();
    return fx_start(&FH, "engine",
                    "\"tokens\": {\"tok\": [\"*\"]},\n"
                    " \"repos\": {\"org/m\": {\"files\": {\"w.bin\": {\"lfs\": true,"
                    " \"generate\": {\"size\": 300000, \"seed\": 99}},"
                    " \"r.txt\": {\"content\": \"x\", \"faults\":"
                    " {\"redirect_to\": \"{files}/files/small\"}}}},\n"
                    "  \"org/priv\": {\"private\": true, \"files\": {\"a.txt\":"
                    " {\"content\": \"hello\"}}}}",
                    SPECS, NSPECS);
}

static int server_down(void **state)
{
    (void)state;
    ap_global_cleanup();
    return fx_stop(&FH);
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct run {
    apx_fetch_opts o;
    apx_fetch_file f;
    char url[512], staging[512], want[65];
    apx_error err;
    int rc;
    uint64_t ms;
} run;

static void run_init(run *r, const char *name)
{
    const fx_spec *s = spec_of(name);
    memset(r, 0, sizeof *r);
    snprintf(r->url, sizeof r->url, "%s/files/%s", FH.files, name);
    snprintf(r->staging, sizeof r->staging, "%s/staging/%s.part", FH.dir, name);
    r->o.chunk_size = 256 * KB;
    r->o.max_connections = 4;
    r->o.backoff_base_ms = 20;
    r->o.stall_timeout_ms = 5000;
    r->f.label = name;
    r->f.url = r->url;
    r->f.staging_path = r->staging;
    r->f.size = AP_SIZE_UNKNOWN;
    if (s)
        fx_expected_sha(s, r->want);
}

static int run_go(run *r)
{
    uint64_t t0 = apx_now_ms();
    r->rc = apx_fetch(&r->o, &r->f, 1, &r->err);
    r->ms = apx_now_ms() - t0;
    if (r->rc != AP_OK)
        fprintf(stderr, "# %s: rc %d: %s\n", r->f.label, r->rc, r->err.msg);
    return r->rc;
}

static void assert_file_ok(run *r)
{
    char hex[65];
    uint64_t size = 0;
    const fx_spec *s = spec_of(r->f.label);
    assert_int_equal(r->rc, AP_OK);
    assert_int_equal(r->f.status, AP_OK);
    assert_string_equal(r->f.sha256_out, r->want);
    assert_int_equal(apx_sha256_file(r->staging, hex, &size), AP_OK);
    assert_string_equal(hex, r->want);
    assert_int_equal(size, s->size);
    assert_int_equal(r->f.size_out, s->size);
}

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static char *state_path(const run *r, char *buf, size_t n)
{
    snprintf(buf, n, "%s.state", r->staging);
    return buf;
}

/* Count log lines containing all of a, b (b may be NULL). */
static int log_count(const char *a, const char *b)
{
    FILE *fp = fopen(FH.log, "r");
    char line[8192];
    int n = 0;
    if (!fp)
        return 0;
    while (fgets(line, sizeof line, fp))
        if (strstr(line, a) && (!b || strstr(line, b)))
            n++;
    fclose(fp);
    return n;
}

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

static int g_retries, g_heartbeats;
static char g_retry_msg[512];

static int sink(const ap_event *ev, void *user)
{
    (void)user;
    if (ev->kind == AP_EVENT_RETRY) {
        g_retries++;
        snprintf(g_retry_msg, sizeof g_retry_msg, "%s",
                 ev->message ? ev->message : "");
    }
    if (ev->kind == AP_EVENT_HEARTBEAT)
        g_heartbeats++;
    assert_int_equal(ev->job_id, 42);
    return 0;
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

/* ---- hostile servers (issue 8) ----------------------------------------- */

/* ASan and TSan reserve terabytes of shadow memory: no RLIMIT_AS there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

typedef struct child_out {
    int rc, status;
    size_t ranges_peak;
    char msg[APX_ERRMSG_MAX];
} child_out;

/* Run apx_fetch(r) in a child with an address-space limit (none under
 * ASan, which reserves terabytes of shadow) and an alarm, so a defect that
 * eats memory or blocks shows up as a failed test, not a dead machine. */
static void fetch_in_child(run *r, size_t as_limit, unsigned secs,
                           child_out *out)
{
    int p[2], st = 0;
    pid_t pid;
    ssize_t got;
    memset(out, 0, sizeof *out);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_out c;
        close(p[0]);
        alarm(secs);
#ifndef UNDER_ASAN
        if (as_limit) {
            struct rlimit rl = { as_limit, as_limit };
            setrlimit(RLIMIT_AS, &rl);
        }
#else
        (void)as_limit;
#endif
        memset(&c, 0, sizeof c);
        c.rc = apx_fetch(&r->o, &r->f, 1, &r->err);
        c.status = r->f.status;
        c.ranges_peak = r->f.ranges_peak;
        snprintf(c.msg, sizeof c.msg, "%s", r->err.msg);
        if (write(p[1], &c, sizeof c) != (ssize_t)sizeof c)
            _exit(2);
        _exit(0);
    }
    close(p[1]);
    got = read(p[0], out, sizeof *out);
    close(p[0]);
    waitpid(pid, &st, 0);
    if (got != (ssize_t)sizeof *out) {
        out->rc = -1000;
        snprintf(out->msg, sizeof out->msg, "child died (%s %d)",
                 WIFSIGNALED(st) ? "signal" : "status",
                 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    fprintf(stderr, "# %s: rc %d: %s\n", r->f.label, out->rc, out->msg);
}

/* Class 1+2: a size announced by the server (Content-Range total,
 * Content-Length, the caller's size from X-Linked-Size) never drives
 * memory and fails on the free space first, naming both numbers and the
 * artifact. */
static void test_announced_size_bounded(void **state)
{
    static const char *names[] = { "hugetot", "hugelen" };
    run r;
    child_out c;
    size_t i;
    (void)state;
    for (i = 0; i < 2; i++) {
        run_init(&r, names[i]);
        fetch_in_child(&r, (size_t)1 << 30, 60, &c);
        assert_int_equal(c.rc, AP_ENOSPC);
        assert_non_null(strstr(c.msg, names[i]));
        assert_non_null(strstr(c.msg, "1125899906842624"));
        assert_non_null(strstr(c.msg, "free space"));
        assert_true(c.ranges_peak <= 2);
        assert_false(exists(r.staging));
    }
    /* the caller's size (HF: X-Linked-Size) */
    run_init(&r, "basic");
    snprintf(r.staging, sizeof r.staging, "%s/staging/xls.part", FH.dir);
    r.f.size = (uint64_t)1 << 50;
    fetch_in_child(&r, (size_t)1 << 30, 60, &c);
    assert_int_equal(c.rc, AP_ENOSPC);
    assert_non_null(strstr(c.msg, "basic"));
    assert_non_null(strstr(c.msg, "1125899906842624"));
    assert_false(exists(r.staging)); /* nothing left behind */
}

/* Class 1: the range table is bounded by the connections, not by
 * size / chunk_size (2 MB in 16 KiB chunks is 123 ranges). */
static void test_ranges_bounded(void **state)
{
    run r;
    (void)state;
    run_init(&r, "basic");
    snprintf(r.staging, sizeof r.staging, "%s/staging/bounded.part", FH.dir);
    r.o.chunk_size = 16 * KB;
    r.o.connections_per_file = 4;
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    fprintf(stderr, "# ranges_peak %zu\n", r.f.ranges_peak);
    assert_true(r.f.ranges_peak <= 2 * 4 + 2);
    unlink(r.staging);
}

static void *cancel_after_30s(void *arg)
{
    ap_cancel_token *t = arg;
    unsigned i;
    /* a safety net only: the test expects an error long before this */
    for (i = 0; i < 300 && !ap_cancel_is_set(t); i++)
        usleep(100 * 1000);
    ap_cancel(t);
    return NULL;
}

/* Class 3: a body of unknown length has a cap; a failure that cannot be
 * resumed frees the staging data at once. */
static void test_unknown_length_cap(void **state)
{
    run r;
    pthread_t th;
    ap_cancel_token *t = ap_cancel_token_new();
    (void)state;
    run_init(&r, "endless");
    r.o.cancel = t;
    r.o.max_unknown_size = 4 * 1024 * 1024;
    pthread_create(&th, NULL, cancel_after_30s, t);
    run_go(&r);
    ap_cancel(t);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, AP_ESIZE);
    assert_non_null(strstr(r.err.msg, "endless"));
    assert_non_null(strstr(r.err.msg, "4194304"));
    assert_true(r.f.bytes_fetched <= 4 * 1024 * 1024);
    assert_false(exists(r.staging));
    /* no ranges, no length: a broken stream cannot be resumed */
    run_init(&r, "nrdrop");
    r.o.max_attempts = 2;
    run_go(&r);
    assert_int_not_equal(r.rc, AP_OK);
    assert_non_null(strstr(r.err.msg, "nrdrop"));
    assert_false(exists(r.staging));
    ap_cancel_token_free(t);
}

/* Class 4: a server trickling a byte now and then is a stall. */
static void test_min_rate(void **state)
{
    run r;
    pthread_t th;
    ap_cancel_token *t = ap_cancel_token_new();
    (void)state;
    run_init(&r, "trickle");
    r.o.cancel = t;
    r.o.min_rate = 1000;
    r.o.min_rate_window_ms = 600;
    r.o.max_attempts = 2;
    pthread_create(&th, NULL, cancel_after_30s, t);
    run_go(&r);
    ap_cancel(t);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, AP_ENETWORK);
    assert_non_null(strstr(r.err.msg, "slower than 1000 bytes/s"));
    assert_non_null(strstr(r.err.msg, "2 attempts"));
    /* metadata requests too */
    {
        apx_http_opts ho;
        apx_http_result res;
        apx_error err;
        int rc;
        memset(&ho, 0, sizeof ho);
        ho.min_rate = 1000;
        ho.min_rate_window_ms = 1000;
        ap_cancel_reset(t);
        pthread_create(&th, NULL, cancel_after_30s, t);
        rc = apx_http_simple("GET", r.url, NULL, NULL, 1, 0, t, &ho, &res,
                             &err);
        ap_cancel(t);
        pthread_join(th, NULL);
        if (rc == AP_OK)
            apx_http_result_clear(&res);
        fprintf(stderr, "# simple trickle: %d %s\n", rc, err.msg);
        assert_int_equal(rc, AP_ENETWORK);
        assert_non_null(strstr(err.msg, "/files/trickle"));
        assert_non_null(strstr(err.msg, "too slow"));
    }
    /* our own bandwidth cap below min_rate is not a stall */
    run_init(&r, "capped");
    r.o.max_bytes_per_sec = 200000;
    r.o.min_rate = 1000000;
    r.o.min_rate_window_ms = 300;
    r.o.max_attempts = 1;
    r.f.sha256 = r.want;
    run_go(&r);
    assert_file_ok(&r);
    ap_cancel_token_free(t);
}

static int file_is(const char *path, const char *content)
{
    char buf[256];
    FILE *fp = fopen(path, "r");
    size_t n;
    if (!fp)
        return 0;
    n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strcmp(buf, content) == 0;
}

static void write_text(const char *path, const char *content)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

/* Class 5: a symlink or FIFO planted at the staging path or its sidecar
 * never makes the engine write outside, nor block. */
static void test_planted_staging(void **state)
{
    run r;
    child_out c;
    char outside[512], state_path[600], tmp_path[700];
    struct stat st;
    (void)state;
    snprintf(outside, sizeof outside, "%s/precious.txt", FH.dir);
    write_text(outside, "precious\n");
    /* symlink at the data file */
    run_init(&r, "planted");
    mkdir(FH.dir, 0755);
    { char d[600]; snprintf(d, sizeof d, "%s/staging", FH.dir); mkdir(d, 0755); }
    unlink(r.staging);
    assert_int_equal(symlink(outside, r.staging), 0);
    r.f.sha256 = r.want;
    fetch_in_child(&r, 0, 30, &c);
    assert_int_equal(c.rc, AP_OK);
    assert_true(file_is(outside, "precious\n"));
    assert_int_equal(lstat(r.staging, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(r.staging);
    /* FIFO at the data file */
    assert_int_equal(mkfifo(r.staging, 0644), 0);
    fetch_in_child(&r, 0, 30, &c);
    assert_int_equal(c.rc, AP_OK);
    assert_int_equal(lstat(r.staging, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(r.staging);
    /* FIFO at the sidecar, symlink at the sidecar's temp file */
    snprintf(state_path, sizeof state_path, "%s.state", r.staging);
    snprintf(tmp_path, sizeof tmp_path, "%s.state.tmp", r.staging);
    unlink(state_path);
    unlink(tmp_path);
    assert_int_equal(mkfifo(state_path, 0644), 0);
    assert_int_equal(symlink(outside, tmp_path), 0);
    run_init(&r, "slow"); /* throttled: the syncer writes sidecars */
    snprintf(r.staging, sizeof r.staging, "%s/staging/planted.part", FH.dir);
    r.f.sha256 = r.want;
    fetch_in_child(&r, 0, 30, &c);
    assert_int_equal(c.rc, AP_OK);
    assert_true(file_is(outside, "precious\n"));
    unlink(r.staging);
    unlink(state_path);
    unlink(tmp_path);
    unlink(outside);
}

/* Class 6: the token goes only to its exact origin (scheme, host, port):
 * a redirect from the hub to another port on the same host drops it. */
static void test_token_exact_origin(void **state)
{
    run r;
    char host[128];
    const char *p;
    int before;
    apx_http_result res;
    apx_error err;
    (void)state;
    run_init(&r, "small");
    snprintf(r.url, sizeof r.url, "%s/org/m/resolve/main/r.txt", FH.hub);
    snprintf(r.staging, sizeof r.staging, "%s/staging/origin.part", FH.dir);
    p = strstr(FH.hub, "://") + 3;
    snprintf(host, sizeof host, "%.*s", (int)strcspn(p, ":/"), p);
    r.f.bearer = "tok";
    r.f.bearer_host = host; /* what the HF vendor passes: a bare host */
    r.f.sha256 = r.want;
    before = log_count("/files/small\"", "authorization");
    run_go(&r);
    assert_file_ok(&r);
    assert_int_equal(log_count("/files/small\"", "authorization"), before);
    assert_true(log_count("/org/m/resolve/main/r.txt\"",
                          "\"authorization\":\"Bearer tok\"") >= 1);
    /* the same for metadata requests */
    assert_int_equal(apx_http_simple("GET", r.url, NULL, "tok", 1, 0, NULL,
                                     NULL, &res, &err), AP_OK);
    assert_int_equal(res.status, 200);
    apx_http_result_clear(&res);
    assert_int_equal(log_count("/files/small\"", "authorization"), before);
}

/* Class 9: credentials in a URL never appear in a message. */
static void test_redacted_urls(void **state)
{
    run r;
    apx_http_result res;
    apx_error err;
    char url[512];
    const char *p = strstr(FH.files, "://") + 3;
    (void)state;
    snprintf(url, sizeof url, "http://user:s3cret@%s/files/nope", p);
    run_init(&r, "nope");
    snprintf(r.url, sizeof r.url, "%s", url);
    run_go(&r);
    assert_int_equal(r.rc, AP_ENOTFOUND);
    assert_null(strstr(r.err.msg, "s3cret"));
    assert_non_null(strstr(r.err.msg, "/files/nope"));
    snprintf(url, sizeof url, "http://user:s3cret@%s/loop/a", p);
    assert_int_equal(apx_http_simple("GET", url, NULL, NULL, 1, 0, NULL,
                                     NULL, &res, &err), AP_EHTTP);
    assert_null(strstr(err.msg, "s3cret"));
    run_init(&r, "loop");
    snprintf(r.url, sizeof r.url, "%s", url);
    run_go(&r);
    assert_int_equal(r.rc, AP_EHTTP);
    assert_null(strstr(r.err.msg, "s3cret"));
    /* no label: the file is named by its URL in events, redacted too */
    {
        ap_tracker *tr = NULL;
        ap_tracker_options to = AP_TRACKER_OPTIONS_INIT;
        char file_seen[600];
        to.sink = sink;
        assert_int_equal(ap_tracker_new(&tr, 42, "t", &to), AP_OK);
        g_retries = 0;
        g_retry_msg[0] = '\0';
        run_init(&r, "a503");
        snprintf(r.url, sizeof r.url, "http://user:s3cret@%s/files/a503", p);
        r.f.label = NULL;
        r.o.max_attempts = 2;
        r.o.tracker = tr;
        run_go(&r);
        snprintf(file_seen, sizeof file_seen, "%s", g_retry_msg);
        ap_tracker_free(tr);
        assert_int_equal(r.rc, AP_EHTTP);
        assert_true(g_retries >= 1);
        assert_non_null(strstr(file_seen, "/files/a503"));
        assert_null(strstr(file_seen, "s3cret"));
        assert_null(strstr(r.err.msg, "s3cret"));
    }
    /* unreachable port: the libcurl message names no credential either */
    snprintf(url, sizeof url, "http://user:s3cret@127.0.0.1:1/x");
    assert_int_equal(apx_http_simple("GET", url, NULL, NULL, 1, 0, NULL,
                                     NULL, &res, &err), AP_ENETWORK);
    assert_null(strstr(err.msg, "s3cret"));
}

/* Class 8: huge response headers end in a clear error with bounded
 * memory.  A tiny server of our own (python3) sends them. */
static const char HUGE_HDR_SERVER[] =
    "import os,socket,sys,threading\n"
    "s=socket.socket();s.bind(('127.0.0.1',0));s.listen(16)\n"
    "os.write(1,b'%d\\n'%s.getsockname()[1])\n"
    "def serve(c):\n"
    "  try:\n"
    "    req=b''\n"
    "    while b'\\r\\n\\r\\n' not in req:\n"
    "      d=c.recv(65536)\n"
    "      if not d: return\n"
    "      req+=d\n"
    "    path=req.split(b' ')[1]\n"
    "    c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n')\n"
    "    if path==b'/many':\n"
    "      line=b'X-Pad: '+b'a'*1000+b'\\r\\n'\n"
    "      for i in range(5000): c.sendall(line)\n"
    "    else:\n"
    "      c.sendall(b'X-Long: ')\n"
    "      for i in range(64): c.sendall(b'b'*32768)\n"
    "      c.sendall(b'\\r\\n')\n"
    "    c.sendall(b'\\r\\nok')\n"
    "  except OSError: pass\n"
    "  finally: c.close()\n"
    "while True:\n"
    "  c,_=s.accept();threading.Thread(target=serve,args=(c,),daemon=True).start()\n";

static void test_huge_headers(void **state)
{
    int p[2], src_many, src_long;
    pid_t pid;
    char port[32] = "", url[128], msg_smany[APX_ERRMSG_MAX];
    char msg_slong[APX_ERRMSG_MAX];
    ssize_t n;
    apx_http_result res;
    apx_error err;
    run many, lng;
    (void)state;
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execlp("python3", "python3", "-c", HUGE_HDR_SERVER, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    n = read(p[0], port, sizeof port - 1); /* one write: "PORT\n" */
    port[n > 0 ? strcspn(port, "\n") : 0] = '\0';
    /* thousands of header lines (5 MB), then one line of 2 MiB */
    snprintf(url, sizeof url, "http://127.0.0.1:%s/many", port);
    src_many = apx_http_simple("GET", url, NULL, NULL, 1, 0, NULL, NULL,
                               &res, &err);
    if (src_many == AP_OK)
        apx_http_result_clear(&res);
    snprintf(msg_smany, sizeof msg_smany, "%s", err.msg);
    run_init(&many, "many");
    snprintf(many.url, sizeof many.url, "%s", url);
    many.o.max_attempts = 2;
    run_go(&many);
    snprintf(url, sizeof url, "http://127.0.0.1:%s/long", port);
    src_long = apx_http_simple("GET", url, NULL, NULL, 1, 0, NULL, NULL,
                               &res, &err);
    if (src_long == AP_OK)
        apx_http_result_clear(&res);
    snprintf(msg_slong, sizeof msg_slong, "%s", err.msg);
    run_init(&lng, "long");
    snprintf(lng.url, sizeof lng.url, "%s", url);
    lng.o.max_attempts = 2;
    run_go(&lng);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(p[0]);
    assert_true(n > 0);
    fprintf(stderr, "# simple /many: %d %s\n# simple /long: %d %s\n",
            src_many, msg_smany, src_long, msg_slong);
    assert_int_equal(src_many, AP_EPROTOCOL);
    assert_non_null(strstr(msg_smany, "headers"));
    assert_non_null(strstr(msg_smany, "/many"));
    assert_int_equal(many.rc, AP_EPROTOCOL);
    assert_non_null(strstr(many.err.msg, "headers"));
    assert_false(exists(many.staging));
    assert_int_equal(src_long, AP_EPROTOCOL);
    assert_non_null(strstr(msg_slong, "/long"));
    assert_non_null(strstr(msg_slong, "headers"));
    assert_int_equal(lng.rc, AP_EPROTOCOL);
    assert_non_null(strstr(lng.err.msg, "/long"));
    assert_non_null(strstr(lng.err.msg, "headers"));
    assert_false(exists(lng.staging));
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
        cmocka_unit_test(test_announced_size_bounded),
        cmocka_unit_test(test_ranges_bounded),
        cmocka_unit_test(test_unknown_length_cap),
        cmocka_unit_test(test_min_rate),
        cmocka_unit_test(test_planted_staging),
        cmocka_unit_test(test_token_exact_origin),
        cmocka_unit_test(test_redacted_urls),
        cmocka_unit_test(test_huge_headers),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, server_up, server_down);
}
