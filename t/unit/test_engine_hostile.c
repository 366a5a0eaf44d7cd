/* Engine tests against hostile servers (issue 8, t/fixtures/fakehub.py):
 * announced sizes, range tables, unknown lengths, trickling servers,
 * planted staging files, token origins, redacted URLs, huge headers.  The
 * shared fixture is engine_fixture.h.  SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "engine_fixture.h"

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
    pid_t parent = getpid();
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        ct_tie_to_parent(parent);   /* child_tie.h: dies with the test */
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
