/* Unit/integration tests: the Hugging Face vendor against t/fixtures/fakehub.py.
 *
 * Part 1 drives resolve() through a small mock host (libcurl easy, test
 * code only) that records the manifest exactly: url, sha256, git_sha1,
 * bearer, bearer_host, flags.  The tests through the real library (the
 * provisioner with this vendor) are in test_provisioner.c; the fixture data
 * and helpers both use are in hf_fixture.h.
 *
 * The vendor sources are compiled in (the static-linking path of the ABI).
 * Skips (TAP "skip") when python3 or the fake hub cannot start.
 * SPDX-License-Identifier: MIT */
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

static int write_config(const char *extra)
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

static int start_hub(void **state)
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
    if (write_config("") != 0 || pipe(pfd) != 0)
        return -1;
    FX.pid = fork();
    if (FX.pid < 0)
        return -1;
    if (FX.pid == 0) {
        const char *src = getenv("AP_SRC");
        char script[512];
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

static int rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

static int stop_hub(void **state)
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

static void log_mark(void)
{
    FX.log_mark = hf_log_size(FX.log);
}

/* Requests logged since log_mark() whose path contains `needle` (NULL: all),
 * as a JSON array (caller decrefs). */
static json_t *log_since(const char *needle)
{
    return hf_log_since(FX.log, FX.log_mark, needle);
}

/* ---- digests of fixture content ------------------------------------------------- */

static void git_sha1(const char *content, char out[41])
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

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *u)
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

static size_t on_header(char *p, size_t sz, size_t nm, void *u)
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

static int m_http(ap_vendor_call *call, const ap_http_request *req, ap_http_response **out)
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

static const char *m_header(const ap_http_response *resp, const char *name)
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

static void m_free(ap_http_response *resp)
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

static int m_add_file(ap_vendor_call *call, const ap_vendor_file *f)
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

static int m_set_artifact(ap_vendor_call *call, const ap_vendor_artifact *a)
{
    free(call->name);
    free(call->revision);
    free(call->canonical);
    call->name = xstrdup(a->name);
    call->revision = xstrdup(a->revision);
    call->canonical = xstrdup(a->canonical);
    return AP_OK;
}

static int m_set_error(ap_vendor_call *call, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(call->err, sizeof call->err, fmt, ap);
    va_end(ap);
    call->status = status;
    return status;
}

static void m_log(ap_vendor_call *call, int level, const char *fmt, ...)
{
    (void)call;
    (void)level;
    (void)fmt;
}

static const char *m_getenv(ap_vendor_call *call, const char *name)
{
    int i;
    for (i = 0; i < call->nenv; i++)
        if (strcmp(call->env[i][0], name) == 0)
            return call->env[i][1];
    return NULL;
}

static const char *m_option(ap_vendor_call *call, const char *key)
{
    (void)call;
    (void)key;
    return NULL;
}

static int m_is_cancelled(ap_vendor_call *call)
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

static void call_init(ap_vendor_call *c)
{
    memset(c, 0, sizeof *c);
    c->env[c->nenv][0] = "HF_ENDPOINT";
    c->env[c->nenv++][1] = FX.hub;
    c->env[c->nenv][0] = "HOME";         /* no token file by accident */
    c->env[c->nenv++][1] = "/nonexistent";
}

static void call_setenv(ap_vendor_call *c, const char *k, const char *v)
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

static void call_clear(ap_vendor_call *c)
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

static int run(ap_vendor_call *c, const char *ref)
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

static const mfile *find(const ap_vendor_call *c, const char *path)
{
    int i;
    for (i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].path, path) == 0)
            return &c->files[i];
    fail_msg("no file '%s' in the manifest", path);
    return NULL;
}

/* ---- tests: descriptor and ABI ------------------------------------------------------- */

static void test_descriptor(void **state)
{
    const ap_vendor *v = ap_vendor_huggingface_init(&mock_host);
    ap_host h = mock_host;
    void *st = (void *)1;
    (void)state;
    assert_non_null(v);
    assert_int_equal(sizeof(ap_vendor), v->struct_size);
    assert_int_equal(AP_VENDOR_ABI_VERSION, v->abi_version);
    assert_non_null(strstr(v->usage, "hf:"));
    assert_string_equal("huggingface", v->name);
    assert_string_equal("hf", v->schemes[0]);
    assert_string_equal("huggingface", v->schemes[1]);
    assert_null(v->schemes[2]);
    assert_null(v->download);
    assert_non_null(v->resolve);
    h.abi_version = AP_VENDOR_ABI_VERSION + 1;
    assert_null(ap_vendor_huggingface_init(&h));
    assert_int_equal(AP_EABI, v->create(&h, &st));
    assert_null(st);
    h = mock_host;
    h.struct_size = offsetof(ap_host, getenv);
    assert_null(ap_vendor_huggingface_init(&h));
    h = mock_host;
    h.http = NULL;
    assert_null(ap_vendor_huggingface_init(&h));
    assert_null(ap_vendor_huggingface_init(NULL));
    /* A host without log/option/progress is fine. */
    h = mock_host;
    h.log = NULL;
    h.option = NULL;
    h.struct_size = offsetof(ap_host, progress);
    assert_non_null(ap_vendor_huggingface_init(&h));
}

static void test_bad_ref(void **state)
{
    ap_vendor_call c;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_EINVAL, run(&c, "hf:org"));
    assert_contains(c.err, "hf:org: bad Hugging Face reference");
    assert_contains(c.err, "hf:[datasets/|spaces/|models/]ORG/REPO[@REV][:QUANT]");
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
}

/* ---- single files ----------------------------------------------------------------- */

static void test_file_lfs(void **state)
{
    ap_vendor_call c;
    char want[65], url[512];
    const mfile *f;
    json_t *log;
    size_t i;
    (void)state;
    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "  tok_good\n");
    assert_int_equal(AP_OK, run(&c, "hf:org/model/m.Q4_K_M.gguf"));
    assert_int_equal(1, c.nfiles);
    f = find(&c, "m.Q4_K_M.gguf");
    gen_sha256(100000, 1, want);
    assert_string_equal(want, f->sha256);
    assert_null(f->git_sha1);
    assert_int_equal(100000, f->size);
    snprintf(url, sizeof url, "%s/org/model/resolve/" CM1 "/m.Q4_K_M.gguf", FX.hub);
    assert_string_equal(url, f->url);
    assert_string_equal("tok_good", f->bearer);
    assert_string_equal("127.0.0.1", f->bearer_host);
    assert_int_equal(0, f->flags & AP_VFILE_METADATA);
    assert_int_equal(1, f->nheaders); /* User-Agent; the engine adds Accept-Encoding */
    assert_string_equal("org/model", c.name);
    assert_string_equal(CM1, c.revision);
    assert_string_equal("hf:org/model/m.Q4_K_M.gguf", c.canonical);
    /* One HEAD, not following the redirect (no CDN request), with the
     * token, identity encoding and our User-Agent. */
    log = log_since(NULL);
    assert_int_equal(1, json_array_size(log));
    for (i = 0; i < json_array_size(log); i++) {
        json_t *e = json_array_get(log, i), *h = json_object_get(e, "headers");
        assert_string_equal("hub", json_string_value(json_object_get(e, "server")));
        assert_string_equal("HEAD", json_string_value(json_object_get(e, "method")));
        assert_string_equal("Bearer tok_good",
                            json_string_value(json_object_get(h, "authorization")));
        assert_string_equal("identity",
                            json_string_value(json_object_get(h, "accept-encoding")));
        assert_contains(json_string_value(json_object_get(h, "user-agent")),
                        "libartifactprov/" AP_VERSION_STRING);
    }
    json_decref(log);
    call_clear(&c);
}

static void test_file_regular(void **state)
{
    ap_vendor_call c;
    char want[41];
    const mfile *f;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "huggingface:org/model/config.json"));
    f = find(&c, "config.json");
    git_sha1(CONFIG1, want);
    assert_string_equal(want, f->git_sha1);
    assert_null(f->sha256);
    assert_int_equal(strlen(CONFIG1), f->size);
    assert_true(f->flags & AP_VFILE_METADATA);
    assert_null(f->bearer);       /* no token anywhere */
    assert_null(f->bearer_host);
    assert_string_equal(CM1, c.revision);
    call_clear(&c);

    /* A revision by tag, and refs/pr/1 percent-encoded in the URL. */
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model@v1.0/config.json"));
    git_sha1(CONFIG2, want);
    assert_string_equal(want, find(&c, "config.json")->git_sha1);
    assert_string_equal(CM2, c.revision);
    call_clear(&c);
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model@refs/pr/1/config.json"));
    assert_string_equal(CM2, c.revision);
    {
        json_t *log = log_since("/resolve/refs%2Fpr%2F1/config.json");
        assert_int_equal(1, json_array_size(log));
        json_decref(log);
    }
    assert_contains(find(&c, "config.json")->url, "/resolve/" CM2 "/config.json");
    call_clear(&c);
    /* Short commit. */
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model@9f8e7d6/config.json"));
    assert_string_equal(CM2, c.revision);
    call_clear(&c);
}

static void test_file_encoding(void **state)
{
    ap_vendor_call c;
    const mfile *f;
    json_t *log;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model/dir with space/a+b.txt"));
    f = find(&c, "dir with space/a+b.txt");
    assert_contains(f->url, "/resolve/" CM1 "/dir%20with%20space/a%2Bb.txt");
    assert_int_equal(4, f->size);
    log = log_since("/dir%20with%20space/a%2Bb.txt");
    assert_int_equal(1, json_array_size(log));
    json_decref(log);
    call_clear(&c);
}

static void test_file_renamed(void **state)
{
    ap_vendor_call c;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/old/m.Q8_0.gguf"));
    assert_string_equal("org/model", c.name);
    assert_string_equal("hf:org/model/m.Q8_0.gguf", c.canonical);
    assert_contains(find(&c, "m.Q8_0.gguf")->url, "/org/model/resolve/" CM1 "/m.Q8_0.gguf");
    assert_int_equal(150000, find(&c, "m.Q8_0.gguf")->size);
    call_clear(&c);
}

/* ---- snapshots and quants ----------------------------------------------------------------- */

static void test_snapshot(void **state)
{
    ap_vendor_call c;
    char want[65];
    const mfile *f;
    json_t *log;
    (void)state;
    call_init(&c);
    call_setenv(&c, "HF_HOME", FX.dir);
    {
        char tok[300];
        snprintf(tok, sizeof tok, "%s/token", FX.dir);
        assert_int_equal(0, write_file(tok, "\n tok_good \n", 12));
    }
    assert_int_equal(AP_OK, run(&c, "hf:org/model"));
    assert_int_equal(8, c.nfiles);
    f = find(&c, "model.safetensors");
    gen_sha256(5000, 9, want);
    assert_string_equal(want, f->sha256);
    assert_int_equal(0, f->flags & AP_VFILE_METADATA);   /* a weight */
    assert_string_equal("tok_good", f->bearer);          /* from $HF_HOME/token */
    f = find(&c, "tokenizer.json");
    assert_non_null(f->git_sha1);
    assert_true(f->flags & AP_VFILE_METADATA);
    assert_int_equal(2, f->size);
    find(&c, "sub/m-Q5_K_M-00002-of-00002.gguf");
    find(&c, "dir with space/a+b.txt");
    assert_string_equal(CM1, c.revision);
    assert_string_equal("hf:org/model", c.canonical);
    /* 8 files + 2 directories at 2 per page: 5 tree pages. */
    log = log_since("/tree/");
    assert_int_equal(5, json_array_size(log));
    json_decref(log);
    log = log_since("/api/models/org/model/revision/main");
    assert_int_equal(1, json_array_size(log));
    json_decref(log);
    call_clear(&c);

    /* Renamed, at a revision. */
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/old@v1.0"));
    assert_int_equal(1, c.nfiles);
    assert_string_equal(CM2, c.revision);
    assert_string_equal("org/model", c.name);
    call_clear(&c);
}

static void test_quant(void **state)
{
    ap_vendor_call c;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model:q4_k_m"));
    assert_int_equal(1, c.nfiles);
    find(&c, "m.Q4_K_M.gguf");
    /* a single pick is named by the file it picked: the entry of
     * hf:org/model/m.Q4_K_M.gguf (docs/vendor-huggingface.md) */
    assert_string_equal("hf:org/model/m.Q4_K_M.gguf", c.canonical);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model:Q5_K_M"));
    assert_int_equal(2, c.nfiles);
    find(&c, "sub/m-Q5_K_M-00001-of-00002.gguf");
    find(&c, "sub/m-Q5_K_M-00002-of-00002.gguf");
    /* several split parts: named by the tag */
    assert_string_equal("hf:org/model:Q5_K_M", c.canonical);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model:default"));
    assert_int_equal(1, c.nfiles);
    find(&c, "m.Q4_K_M.gguf");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model:Q3_K_S"));
    assert_contains(c.err, "hf:org/model:Q3_K_S: no GGUF file for quant 'Q3_K_S'; "
                           "available: Q4_K_M, Q5_K_M, Q8_0");
    assert_int_equal(0, c.nfiles);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/splitbad:Q4_0"));
    assert_contains(c.err, "part 2 of 3 is missing");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/plain:Q4_0"));
    assert_contains(c.err, "no GGUF file");
    call_clear(&c);
}

static void test_repo_types(void **state)
{
    ap_vendor_call c;
    json_t *log;
    (void)state;
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:datasets/org/data"));
    assert_int_equal(1, c.nfiles);
    assert_string_equal("datasets/org/data", c.name);
    assert_contains(find(&c, "data/train.csv")->url, "/datasets/org/data/resolve/");
    log = log_since("/api/datasets/org/data/");
    assert_int_equal(2, json_array_size(log));
    json_decref(log);
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:datasets/org/data/data/train.csv"));
    assert_contains(find(&c, "data/train.csv")->url, "/datasets/org/data/resolve/");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:spaces/org/app/app.py"));
    assert_string_equal("spaces/org/app", c.name);
    assert_contains(find(&c, "app.py")->url, "/spaces/org/app/resolve/");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/data/data/train.csv")); /* not a model */
    call_clear(&c);
}

/* ---- errors ---------------------------------------------------------------------------- */

static void test_errors(void **state)
{
    ap_vendor_call c;
    (void)state;

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/nope/x.gguf"));
    assert_contains(c.err, "hf:org/nope/x.gguf: ");
    assert_contains(c.err, "not found, or private/gated and no valid token (set HF_TOKEN)");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/private"));
    assert_contains(c.err, "set HF_TOKEN");
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_limited");
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/private/a.txt"));
    assert_contains(c.err, "your token (from HF_TOKEN) has no access");
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HUGGING_FACE_HUB_TOKEN", "tok_good");
    assert_int_equal(AP_OK, run(&c, "hf:org/private/a.txt"));
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_EGATED, run(&c, "hf:org/gated/w.gguf"));
    {
        char want[300];
        snprintf(want, sizeof want, "gated: accept the licence at %s/org/gated and set "
                 "HF_TOKEN", FX.hub);
        assert_contains(c.err, want);
    }
    call_clear(&c);

    call_init(&c);  /* the snapshot checks access before the engine starts */
    assert_int_equal(AP_EGATED, run(&c, "hf:org/gated"));
    assert_int_equal(0, c.nfiles);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_denied");
    assert_int_equal(AP_EGATED, run(&c, "hf:org/gated"));
    assert_contains(c.err, "has not been granted access");
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_good");
    assert_int_equal(AP_OK, run(&c, "hf:org/gated"));
    assert_int_equal(2, c.nfiles);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_TOKEN", "tok_bad");
    assert_int_equal(AP_EAUTH, run(&c, "hf:org/model/config.json"));
    assert_contains(c.err, "token refused");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model@nope/config.json"));
    assert_contains(c.err, "revision 'nope' not found");
    call_clear(&c);
    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model@nope"));
    assert_contains(c.err, "revision 'nope' not found");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model/confg.json"));
    assert_contains(c.err, "file 'confg.json' not found at revision main (commit 1a2b3c4d5e6f)");
    assert_contains(c.err, "close names: 'config.json'");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/disabled/a.txt"));
    assert_contains(c.err, "disabled");
    call_clear(&c);

    call_init(&c);
    assert_int_equal(AP_EHTTP, run(&c, "hf:org/broken"));
    assert_contains(c.err, "HTTP 503");
    call_clear(&c);

    /* Not a hub: the plain file server answers 404 without X-Repo-Commit. */
    call_init(&c);
    call_setenv(&c, "HF_ENDPOINT", FX.files);
    assert_int_equal(AP_EPROTOCOL, run(&c, "hf:org/model/config.json"));
    assert_contains(c.err, "is not a Hugging Face endpoint (no X-Repo-Commit)");
    call_clear(&c);
    call_init(&c);
    call_setenv(&c, "HF_ENDPOINT", FX.files);
    assert_int_equal(AP_EPROTOCOL, run(&c, "hf:org/model"));
    assert_contains(c.err, "is not a Hugging Face endpoint");
    call_clear(&c);

    /* Cancelled before anything. */
    call_init(&c);
    c.cancelled = 1;
    assert_int_equal(AP_ECANCELLED, run(&c, "hf:org/model"));
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
}

static void test_rate_limit(void **state)
{
    ap_vendor_call c;
    (void)state;
    assert_int_equal(0, write_config("\"rate_limit\":{\"after\":0,\"retry_after\":7},"));
    call_init(&c);
    assert_int_equal(AP_ERATELIMIT, run(&c, "hf:org/model/config.json"));
    assert_contains(c.err, "rate limited by");
    assert_contains(c.err, "retry after 7 s");
    call_clear(&c);
    assert_int_equal(0, write_config(""));
    usleep(20000);
    call_init(&c);
    assert_int_equal(AP_OK, run(&c, "hf:org/model/config.json"));
    call_clear(&c);
}

/* ---- offline ------------------------------------------------------------------------------ */

static void test_offline(void **state)
{
    ap_vendor_call c;
    char cache[300], p[600], q[600], sha[65], sha1[41];
    const mfile *f;
    (void)state;
    snprintf(cache, sizeof cache, "%s/hfcache", FX.dir);
    gen_sha256(10, 1, sha);
    git_sha1(CONFIG1, sha1);
    snprintf(p, sizeof p, "%s/models--org--model/blobs", cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/" CM1 "/sub", cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/refs", cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/refs/main", cache);
    assert_int_equal(0, write_file(p, CM1, 40));
    snprintf(p, sizeof p, "%s/models--org--model/blobs/%s", cache, sha);
    assert_int_equal(0, write_file(p, "0123456789", 10));
    snprintf(p, sizeof p, "%s/models--org--model/blobs/%s", cache, sha1);
    assert_int_equal(0, write_file(p, CONFIG1, strlen(CONFIG1)));
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/" CM1 "/sub/m.Q4_K_M.gguf",
             cache);
    snprintf(q, sizeof q, "../../../blobs/%s", sha);
    assert_int_equal(0, symlink(q, p));
    snprintf(p, sizeof p, "%s/models--org--model/snapshots/" CM1 "/config.json", cache);
    snprintf(q, sizeof q, "../../blobs/%s", sha1);
    assert_int_equal(0, symlink(q, p));
    snprintf(p, sizeof p, "%s/models--org--model/.no_exist/" CM1, cache);
    mk(p);
    snprintf(p, sizeof p, "%s/models--org--model/.no_exist/" CM1 "/gone.txt", cache);
    assert_int_equal(0, write_file(p, "", 0));

    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_OK, run(&c, "hf:org/model"));
    assert_int_equal(0, c.nhttp);
    assert_int_equal(2, c.nfiles);
    f = find(&c, "sub/m.Q4_K_M.gguf");
    assert_string_equal(sha, f->sha256);
    assert_int_equal(10, f->size);
    snprintf(p, sizeof p, "file://%s/models--org--model/blobs/%s", cache, sha);
    assert_string_equal(p, f->url);
    assert_null(f->bearer);
    f = find(&c, "config.json");
    assert_string_equal(sha1, f->git_sha1);
    assert_string_equal(CM1, c.revision);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "true");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    call_setenv(&c, "HF_ENDPOINT", "http://127.0.0.1:1");
    assert_int_equal(AP_OK, run(&c, "hf:org/model:Q4_K_M"));
    assert_int_equal(1, c.nfiles);
    assert_int_equal(AP_OK, (call_clear(&c), call_init(&c),
                             call_setenv(&c, "HF_HUB_OFFLINE", "yes"),
                             call_setenv(&c, "HF_HUB_CACHE", cache),
                             run(&c, "hf:org/model@" CM1 "/config.json")));
    assert_int_equal(1, c.nfiles);
    call_clear(&c);

    /* HF_HOME/hub is the default cache. */
    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HOME", FX.dir);
    assert_int_equal(AP_EOFFLINE, run(&c, "hf:org/model"));
    snprintf(p, sizeof p, "offline (HF_HUB_OFFLINE=1) and hf:org/model is not in the HF "
             "cache %s/hub", FX.dir);
    assert_contains(c.err, p);
    call_clear(&c);

    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_EOFFLINE, run(&c, "hf:org/model/missing.txt"));
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_ENOTFOUND, run(&c, "hf:org/model/gone.txt"));
    call_clear(&c);
    call_init(&c);
    call_setenv(&c, "HF_HUB_OFFLINE", "1");
    call_setenv(&c, "HF_HUB_CACHE", cache);
    assert_int_equal(AP_EOFFLINE, run(&c, "hf:org/model@v9"));
    assert_int_equal(AP_EOFFLINE, (call_clear(&c), call_init(&c),
                                   call_setenv(&c, "HF_HUB_OFFLINE", "1"),
                                   call_setenv(&c, "HF_HUB_CACHE", cache),
                                   run(&c, "hf:datasets/org/model")));
    assert_int_equal(0, c.nhttp);
    call_clear(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_bad_ref),
        cmocka_unit_test(test_file_lfs),
        cmocka_unit_test(test_file_regular),
        cmocka_unit_test(test_file_encoding),
        cmocka_unit_test(test_file_renamed),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_quant),
        cmocka_unit_test(test_repo_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_offline),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    if (system("python3 -c 'import sys; sys.exit(sys.version_info < (3, 8))' "
               ">/dev/null 2>&1") != 0) {
        printf("1..0 # SKIP python3 not available for the fake hub\n");
        return 0;
    }
    return cmocka_run_group_tests_name("hf_vendor", tests, start_hub, stop_hub);
}
