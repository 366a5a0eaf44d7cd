/* Shared by the Hugging Face vendor tests (test_hf_vendor.c: refs, files,
 * snapshots, quants, repo types; test_hf_vendor_errors.c: errors, rate
 * limits, offline): the vendor sources compiled in (the static-linking path
 * of the ABI), t/fixtures/fakehub.py started and stopped, its request log,
 * and a small mock host (libcurl easy, test code only) that records the
 * manifest exactly: url, sha256, git_sha1, bearer, bearer_host, flags.
 * Header-only (static functions), included by one test file at a time; the
 * fixture data shared with test_provisioner.c is in hf_fixture.h.
 * SPDX-License-Identifier: MIT */
#ifndef AP_T_HF_VENDOR_FIXTURE_H
#define AP_T_HF_VENDOR_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include "child_tie.h"
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "../../vendors/huggingface/hf.c"
#include "../../vendors/huggingface/ref.c"
#include "../../vendors/huggingface/util.c"
#include "../../vendors/common/text.c"
#include "../../vendors/huggingface/select.c"
#include "../../vendors/huggingface/cache.c"
#include "../../vendors/huggingface/publish.c"
#include "../../vendors/huggingface/scan.c"
#include "../../vendors/huggingface/fromcat.c"
#include "../../vendors/huggingface/msg.c"
#include "../../vendors/huggingface/manifest.c"
#include "../../vendors/huggingface/cachedir.c"
#include "../../vendors/common/env.c"
#include "hf_fixture.h"

/* Not every test uses every helper. */
#define HV_FN static __attribute__((unused))

typedef struct fixture {
    char dir[256];
    char cfg[300];
    char log[300];
    char hub[128];
    char files[128];
    pid_t pid;
    int stdin_fd;
    long log_mark;
} fixture;

static fixture FX;  /* test fixture only; the vendor itself has no globals */

HV_FN int write_config(const char *extra)
{
    char tmp[320], *buf;
    int n = snprintf(NULL, 0, config_fmt, extra), rc;
    if (!(buf = malloc((size_t)n + 1)))
        return -1;
    snprintf(buf, (size_t)n + 1, config_fmt, extra);
    snprintf(tmp, sizeof tmp, "%s.tmp", FX.cfg);
    rc = write_file(tmp, buf, (size_t)n);
    free(buf);
    return rc == 0 ? rename(tmp, FX.cfg) : -1;
}

HV_FN int start_hub(void **state)
{
    char ready[300];
    int pfd[2], i;
    (void)state;
    snprintf(FX.dir, sizeof FX.dir, "/tmp/ap-hf-test-XXXXXX");
    if (!mkdtemp(FX.dir))
        return -1;
    snprintf(FX.cfg, sizeof FX.cfg, "%s/cfg.json", FX.dir);
    snprintf(FX.log, sizeof FX.log, "%s/log.jsonl", FX.dir);
    snprintf(ready, sizeof ready, "%s/ready", FX.dir);
    pid_t parent = getpid();
    if (write_config("") != 0 || ct_watch_pipe(pfd) != 0)
        return -1;
    FX.pid = fork();
    if (FX.pid < 0)
        return -1;
    if (FX.pid == 0) {
        const char *src = getenv("AP_SRC");
        char script[512];
        ct_tie_to_parent(parent);   /* child_tie.h: dies with the test */
        snprintf(script, sizeof script, "%s/t/fixtures/fakehub.py", src ? src : ".");
        int devnull = open("/dev/null", O_WRONLY);
        dup2(pfd[0], 0);
        if (devnull >= 0)
            dup2(devnull, 1);  /* keep the TAP stream clean */
        close(pfd[0]);
        close(pfd[1]);
        execlp("python3", "python3", script, "--config", FX.cfg, "--log", FX.log,
               "--ready-file", ready, "--stdin-watch", (char *)NULL);
        _exit(127);
    }
    close(pfd[0]);
    FX.stdin_fd = pfd[1];
    for (i = 0; i < 500; i++) {
        struct stat st;
        int status;
        if (stat(ready, &st) == 0 && st.st_size > 0)
            break;
        if (waitpid(FX.pid, &status, WNOHANG) == FX.pid) {
            FX.pid = 0;
            return -1;
        }
        usleep(20000);
    }
    {
        json_error_t e;
        json_t *j = json_load_file(ready, 0, &e);
        const char *hub = json_string_value(json_object_get(j, "hub"));
        const char *files = json_string_value(json_object_get(j, "files"));
        if (!hub || !files) {
            json_decref(j);
            return -1;
        }
        snprintf(FX.hub, sizeof FX.hub, "%s", hub);
        snprintf(FX.files, sizeof FX.files, "%s", files);
        json_decref(j);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

HV_FN int rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

HV_FN int stop_hub(void **state)
{
    (void)state;
    if (FX.pid > 0) {
        int status;
        close(FX.stdin_fd);       /* --stdin-watch: EOF stops it */
        if (waitpid(FX.pid, &status, 0) != FX.pid)
            kill(FX.pid, SIGTERM);
    }
    curl_global_cleanup();
    if (FX.dir[0] && !getenv("AP_KEEP"))
        rm_rf(FX.dir);
    return 0;
}

HV_FN void log_mark(void)
{
    FX.log_mark = hf_log_size(FX.log);
}

/* Requests logged since log_mark() whose path contains `needle` (NULL: all),
 * as a JSON array (caller decrefs). */
HV_FN json_t *log_since(const char *needle)
{
    return hf_log_since(FX.log, FX.log_mark, needle);
}

/* ---- digests of fixture content ------------------------------------------------- */

HV_FN void git_sha1(const char *content, char out[41])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[20];
    unsigned len;
    char hdr_[64];
    int n = snprintf(hdr_, sizeof hdr_, "blob %zu", strlen(content));
    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    EVP_DigestUpdate(ctx, hdr_, (size_t)n + 1);
    EVP_DigestUpdate(ctx, content, strlen(content));
    EVP_DigestFinal_ex(ctx, d, &len);
    hexify(d, 20, out);
    EVP_MD_CTX_free(ctx);
}

/* ---- the mock host ---------------------------------------------------------------- */

typedef struct mfile {
    char *path, *sha256, *git_sha1, *url, *bearer, *bearer_host, *etag;
    uint64_t size;
    unsigned flags;
    int nheaders;
} mfile;

struct ap_vendor_call {
    const char *env[16][2];
    int nenv;
    int cancelled;
    int nhttp;
    int status;
    char err[1024];
    mfile files[64];
    int nfiles;
    char *name, *revision, *canonical;
};

typedef struct mock_resp {
    ap_http_response pub;
    char *url;
    char *body;
    size_t len, max;
    int too_big;
    char *hdrs[128];
    int nhdrs;
} mock_resp;

HV_FN char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

HV_FN size_t on_body(char *p, size_t sz, size_t nm, void *u)
{
    mock_resp *r = u;
    size_t n = sz * nm;
    char *b;
    if (r->len + n > r->max) {
        r->too_big = 1;
        return 0;
    }
    if (!(b = realloc(r->body, r->len + n + 1)))
        return 0;
    memcpy(b + r->len, p, n);
    r->body = b;
    r->len += n;
    b[r->len] = '\0';
    return n;
}

HV_FN size_t on_header(char *p, size_t sz, size_t nm, void *u)
{
    mock_resp *r = u;
    size_t n = sz * nm;
    int i;
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response: reset */
        for (i = 0; i < r->nhdrs; i++)
            free(r->hdrs[i]);
        r->nhdrs = 0;
        return n;
    }
    if (r->nhdrs < 128 && n > 2 && memchr(p, ':', n)) {
        char *h = strndup(p, n);
        while (h && *h && (h[strlen(h) - 1] == '\n' || h[strlen(h) - 1] == '\r'))
            h[strlen(h) - 1] = '\0';
        if (h)
            r->hdrs[r->nhdrs++] = h;
    }
    return n;
}

HV_FN int m_http(ap_vendor_call *call, const ap_http_request *req, ap_http_response **out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *sl = NULL;
    mock_resp *r = calloc(1, sizeof *r);
    const char *eff = NULL;
    CURLcode cc;
    int i;
    call->nhttp++;
    *out = NULL;
    assert_non_null(c);
    assert_non_null(r);
    r->max = req->max_body ? req->max_body : 16u << 20;
    /* Like the real host's engine: identity encoding on every request. */
    sl = curl_slist_append(sl, "Accept-Encoding: identity");
    for (i = 0; req->headers && req->headers[i]; i++)
        sl = curl_slist_append(sl, req->headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    if (req->method && strcmp(req->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (req->bearer) {
        /* curl sends it to the original host only */
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, req->bearer);
    }
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    cc = curl_easy_perform(c);
    curl_slist_free_all(sl);
    if (cc != CURLE_OK) {
        snprintf(call->err, sizeof call->err, "%s: %s", req->url,
                 r->too_big ? "body too large" : curl_easy_strerror(cc));
        call->status = AP_ENETWORK;
        curl_easy_cleanup(c);
        for (i = 0; i < r->nhdrs; i++)
            free(r->hdrs[i]);
        free(r->body);
        free(r);
        return AP_ENETWORK;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->pub.status);
    curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
    r->url = xstrdup(eff);
    curl_easy_cleanup(c);
    r->pub.struct_size = sizeof r->pub;
    r->pub.url = r->url;
    r->pub.body = r->body ? r->body : "";
    r->pub.body_len = r->len;
    *out = &r->pub;
    return AP_OK;
}

HV_FN const char *m_header(const ap_http_response *resp, const char *name)
{
    const mock_resp *r = (const mock_resp *)resp;
    size_t n = strlen(name);
    int i;
    for (i = r->nhdrs - 1; i >= 0; i--)
        if (strncasecmp(r->hdrs[i], name, n) == 0 && r->hdrs[i][n] == ':') {
            const char *v = r->hdrs[i] + n + 1;
            while (*v == ' ')
                v++;
            return v;
        }
    return NULL;
}

HV_FN void m_free(ap_http_response *resp)
{
    mock_resp *r = (mock_resp *)resp;
    int i;
    if (!r)
        return;
    for (i = 0; i < r->nhdrs; i++)
        free(r->hdrs[i]);
    free(r->body);
    free(r->url);
    free(r);
}

HV_FN int m_add_file(ap_vendor_call *call, const ap_vendor_file *f)
{
    mfile *m;
    assert_true(call->nfiles < 64);
    assert_true(f->struct_size >= sizeof *f);
    m = &call->files[call->nfiles++];
    m->path = xstrdup(f->path);
    m->sha256 = xstrdup(f->sha256);
    m->git_sha1 = xstrdup(f->git_sha1);
    m->url = xstrdup(f->url);
    m->bearer = xstrdup(f->bearer);
    m->bearer_host = xstrdup(f->bearer_host);
    m->etag = xstrdup(f->etag);
    m->size = f->size;
    m->flags = f->flags;
    for (m->nheaders = 0; f->headers && f->headers[m->nheaders]; m->nheaders++)
        ;
    return AP_OK;
}

HV_FN int m_set_artifact(ap_vendor_call *call, const ap_vendor_artifact *a)
{
    free(call->name);
    free(call->revision);
    free(call->canonical);
    call->name = xstrdup(a->name);
    call->revision = xstrdup(a->revision);
    call->canonical = xstrdup(a->canonical);
    return AP_OK;
}

HV_FN int m_set_error(ap_vendor_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->err, sizeof call->err, fmt, ap);
    va_end(ap);
    call->status = status;
    return status;
}

HV_FN void m_log(ap_vendor_call *call, int level, const char *fmt, ...)
{
    (void)call;
    (void)level;
    (void)fmt;
}

HV_FN const char *m_getenv(ap_vendor_call *call, const char *name)
{
    int i;
    for (i = 0; i < call->nenv; i++)
        if (strcmp(call->env[i][0], name) == 0)
            return call->env[i][1];
    return NULL;
}

HV_FN const char *m_option(ap_vendor_call *call, const char *key)
{
    (void)call;
    (void)key;
    return NULL;
}

HV_FN int m_is_cancelled(ap_vendor_call *call)
{
    return call->cancelled;
}

static const ap_host mock_host = {
    .struct_size = sizeof(ap_host), .abi_version = AP_VENDOR_ABI_VERSION,
    .http = m_http, .http_header = m_header, .http_free = m_free,
    .add_file = m_add_file, .set_artifact = m_set_artifact,
    .set_error = m_set_error, .log = m_log, .getenv = m_getenv,
    .option = m_option, .is_cancelled = m_is_cancelled,
};

HV_FN void call_init(ap_vendor_call *c)
{
    memset(c, 0, sizeof *c);
    c->env[c->nenv][0] = "HF_ENDPOINT";
    c->env[c->nenv++][1] = FX.hub;
    c->env[c->nenv][0] = "HOME";         /* no token file by accident */
    c->env[c->nenv++][1] = "/nonexistent";
}

HV_FN void call_setenv(ap_vendor_call *c, const char *k, const char *v)
{
    int i;
    for (i = 0; i < c->nenv; i++)
        if (strcmp(c->env[i][0], k) == 0) {
            c->env[i][1] = v;
            return;
        }
    c->env[c->nenv][0] = k;
    c->env[c->nenv++][1] = v;
}

HV_FN void call_clear(ap_vendor_call *c)
{
    int i;
    for (i = 0; i < c->nfiles; i++) {
        mfile *m = &c->files[i];
        free(m->path);
        free(m->sha256);
        free(m->git_sha1);
        free(m->url);
        free(m->bearer);
        free(m->bearer_host);
        free(m->etag);
    }
    free(c->name);
    free(c->revision);
    free(c->canonical);
    c->nfiles = 0;
    c->name = c->revision = c->canonical = NULL;
}

HV_FN int run(ap_vendor_call *c, const char *ref)
{
    const ap_vendor *v = ap_vendor_huggingface_init(&mock_host);
    void *st = NULL;
    int rc;
    assert_non_null(v);
    assert_int_equal(AP_OK, v->create(&mock_host, &st));
    log_mark();
    rc = v->resolve(st, c, ref);
    v->destroy(st);
    if (rc != AP_OK)
        assert_int_equal(rc, c->status);
    else
        assert_int_equal(0, c->status);
    return rc;
}

HV_FN const mfile *find(const ap_vendor_call *c, const char *path)
{
    int i;
    for (i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].path, path) == 0)
            return &c->files[i];
    fail_msg("no file '%s' in the manifest", path);
    return NULL;
}

/* Run the group `name` against the fake hub; TAP "skip" when python3 is
 * missing. */
HV_FN int hf_vendor_run(const char *name, const struct CMUnitTest *tests, size_t n)
{
    cmocka_set_message_output(CM_OUTPUT_TAP);
    if (system("python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' "
               ">/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP python3 not available for the fake hub\n");
        return 0;
    }
    return _cmocka_run_group_tests(name, tests, n, start_hub, stop_hub);
}

#endif
