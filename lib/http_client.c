/* libartifactprov — the small-request client (lib/http_client.h): one
 * request, body in memory, optional manual redirects, retried by the
 * engine's policy (lib/retry.h).
 * SPDX-License-Identifier: MIT */
#include "http_client.h"
#include "http_parse.h"
#include "http_request.h"
#include "progress.h"
#include "retry.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define SIMPLE_ATTEMPTS 4
#define SIMPLE_MAX_BODY (16u * 1024u * 1024u)

typedef struct simple_ctx {
    char *body;
    size_t len, cap, max;
    int too_big;
    size_t hdr_bytes;      /* every header byte of this attempt */
    int hdr_too_big;
    char **hdrs;
    size_t nh, caph;
    int oom;
    uint64_t retry_after_ms;
} simple_ctx;

static void simple_clear_headers(simple_ctx *c)
{
    size_t i;
    for (i = 0; i < c->nh; i++)
        free(c->hdrs[i]);
    c->nh = 0;
    if (c->hdrs)
        c->hdrs[0] = NULL;
}

static size_t simple_header(char *p, size_t sz, size_t nm, void *ud)
{
    simple_ctx *c = ud;
    size_t n = sz * nm, l = n;
    char v[64];
    c->hdr_bytes += n;
    if (c->hdr_bytes > HDR_MAX) {
        c->hdr_too_big = 1; /* abort: libcurl stops storing them too */
        return 0;
    }
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        simple_clear_headers(c);
        c->retry_after_ms = 0;
        c->len = 0;
        return n;
    }
    while (l && (p[l - 1] == '\r' || p[l - 1] == '\n'))
        l--;
    if (!l || !memchr(p, ':', l))
        return n;
    if (apx_hdr_value(p, n, "Retry-After", v, sizeof v))
        c->retry_after_ms = apx_parse_retry_after(v);
    if (c->nh + 2 > c->caph) {
        size_t cap = c->caph ? c->caph * 2 : 16;
        char **nh = apx_realloc(c->hdrs, cap * sizeof *nh);
        if (!nh) {
            c->oom = 1;
            return 0;
        }
        c->hdrs = nh;
        c->caph = cap;
    }
    if (!(c->hdrs[c->nh] = apx_strndup(p, l))) {
        c->oom = 1;
        return 0;
    }
    c->hdrs[++c->nh] = NULL;
    return n;
}

static size_t simple_write(char *p, size_t sz, size_t nm, void *ud)
{
    simple_ctx *c = ud;
    size_t n = sz * nm;
    if (c->len + n > c->max) {
        c->too_big = 1;
        return 0;
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        char *nb;
        while (cap < c->len + n + 1)
            cap *= 2;
        if (cap > c->max + 1)
            cap = c->max + 1;
        nb = apx_realloc(c->body, cap);
        if (!nb) {
            c->oom = 1;
            return 0;
        }
        c->body = nb;
        c->cap = cap;
    }
    memcpy(c->body + c->len, p, n);
    c->len += n;
    c->body[c->len] = '\0';
    return n;
}

/* Wait ms, or less when cancelled; the thread's activity hook (the job's
 * heartbeat and cancel token) is called at least every 250 ms.  AP_OK, or
 * the status to stop with (AP_ECANCELLED, or the hook's). */
static int sleep_cancellable(ap_cancel_token *cancel, uint64_t ms)
{
    uint64_t end = apx_now_ms() + ms;
    int trc;
    for (;;) {
        uint64_t now = apx_now_ms(), slice;
        if (cancel && ap_cancel_is_set(cancel))
            return AP_ECANCELLED;
        if ((trc = apx_tick(0)) != 0)
            return trc;
        if (now >= end)
            return AP_OK;
        slice = end - now > 250 ? 250 : end - now;
        {
            CURLM *m = curl_multi_init();
            struct curl_waitfd w;
            int fd = cancel ? ap_cancel_token_fd(cancel) : -1;
            if (!m) {
                usleep(1000);
                continue;
            }
            w.fd = fd;
            w.events = CURL_WAIT_POLLIN;
            w.revents = 0;
            curl_multi_poll(m, fd >= 0 ? &w : NULL, fd >= 0 ? 1u : 0u,
                            (int)slice, NULL);
            curl_multi_cleanup(m);
        }
    }
}

void apx_http_result_clear(apx_http_result *r)
{
    size_t i;
    if (!r)
        return;
    free(r->url);
    free(r->body);
    if (r->headers)
        for (i = 0; r->headers[i]; i++)
            free(r->headers[i]);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

const char *apx_http_result_header(const apx_http_result *r,
                                   const char *name)
{
    size_t i, nl;
    if (!r || !r->headers || !name)
        return NULL;
    nl = strlen(name);
    for (i = 0; r->headers[i]; i++) {
        const char *h = r->headers[i];
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ' || *h == '\t')
                h++;
            return h;
        }
    }
    return NULL;
}

/* One apx_http_simple call: its arguments and the state of its loop. */
typedef struct simple_req {
    const char *method, *url;
    const char *const *headers;
    const char *bearer;
    int follow;
    ap_cancel_token *cancel;
    const char *ca_file;
    uint64_t min_rate;
    long window_s;
    CURLM *multi;
    CURL *e;
    char *cur, *orig_host;
    char errbuf[CURL_ERROR_SIZE];
    simple_ctx c;
    unsigned redirects, attempt;
    uint64_t rng;
    int cfd, trc;
} simple_req;

enum { SIMPLE_AGAIN = 1 }; /* another attempt (retry or redirect) */

/* Stop for a cancel, or for the job's hook (its cancel token, or its sink
 * asked to stop) in q->trc: the status to end with, or AP_OK to go on.
 * hook_first: which of the two is reported when both are set. */
static int simple_stopped(simple_req *q, int hook_first, apx_error *err)
{
    char u[512];
    int cancelled = q->cancel && ap_cancel_is_set(q->cancel);
    if (q->trc && (hook_first || !cancelled))
        return apx_error_set(err, q->trc, "%s: %s",
                             apx_url_msg(q->cur, u, sizeof u),
                             q->trc == AP_ECANCELLED
                                 ? "cancelled" : "aborted by the event sink");
    if (cancelled)
        return apx_error_set(err, AP_ECANCELLED, "%s: cancelled",
                             apx_url_msg(q->cur, u, sizeof u));
    return AP_OK;
}

/* Set the easy handle up for one attempt at q->cur. */
static void simple_setup(simple_req *q, struct curl_slist *hl)
{
    CURL *e = q->e;
    curl_easy_reset(e);
    apx_req_common_opts(e, q->errbuf, q->ca_file);
    curl_easy_setopt(e, CURLOPT_URL, q->cur);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, simple_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &q->c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, simple_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &q->c);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
    /* minimum rate: no bandwidth cap pauses these transfers, so
     * libcurl's own low-speed check is exact here */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                     q->min_rate > LONG_MAX ? LONG_MAX : (long)q->min_rate);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, q->window_s);
    if (strcmp(q->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(q->method, "GET") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
}

/* Run the attempt set up on q->e to its end (or a cancel, or the hook's
 * stop in q->trc).  *done: libcurl reported the transfer finished. */
static CURLcode simple_perform(simple_req *q, int *done)
{
    CURLcode res = CURLE_OK;
    CURLMsg *m;
    int running = 1, n;
    *done = 0;
    curl_multi_add_handle(q->multi, q->e);
    while (running) {
        struct curl_waitfd w;
        w.fd = q->cfd;
        w.events = CURL_WAIT_POLLIN;
        w.revents = 0;
        curl_multi_perform(q->multi, &running);
        if (q->cancel && ap_cancel_is_set(q->cancel))
            break;
        if (!running)
            break;
        /* the job's heartbeat goes on while the server thinks */
        if ((q->trc = apx_tick(0)) != 0)
            break;
        curl_multi_poll(q->multi, q->cfd >= 0 ? &w : NULL,
                        q->cfd >= 0 ? 1u : 0u,
                        apx_tick_active() ? 250 : 1000, NULL);
    }
    while ((m = curl_multi_info_read(q->multi, &n)))
        if (m->msg == CURLMSG_DONE) {
            res = m->data.result;
            *done = 1;
        }
    curl_multi_remove_handle(q->multi, q->e);
    return res;
}

/* Wait before another attempt; a cancel or the hook's stop lands in
 * q->trc, reported at the loop top. */
static int simple_wait(simple_req *q, uint64_t ms)
{
    int src = sleep_cancellable(q->cancel, ms);
    if (src != AP_OK)
        q->trc = src;
    return SIMPLE_AGAIN;
}

/* The attempt failed in transport (no usable response): SIMPLE_AGAIN, or
 * the status to end with. */
static int simple_transport_failed(simple_req *q, CURLcode res,
                                   apx_error *err)
{
    char u[512];
    const char *why = q->errbuf[0] ? q->errbuf : curl_easy_strerror(res);
    if (apx_curl_tls_error(res))
        return apx_error_set(err, AP_ENETWORK, "%s: TLS: %s",
                             apx_url_msg(q->cur, u, sizeof u), why);
    if (res == CURLE_OUT_OF_MEMORY)
        return apx_error_set(err, AP_EPROTOCOL,
                             "%s: response headers refused (a header "
                             "line over 100 KiB?): %s",
                             apx_url_msg(q->cur, u, sizeof u), why);
    if (++q->attempt < SIMPLE_ATTEMPTS && res != CURLE_UNSUPPORTED_PROTOCOL &&
        res != CURLE_URL_MALFORMAT)
        return simple_wait(q, apx_backoff_ms(&q->rng, 250, q->attempt));
    return apx_error_set(err, AP_ENETWORK, "%s: %s",
                         apx_url_msg(q->cur, u, sizeof u), why);
}

/* Follow a redirect answered with `status`: SIMPLE_AGAIN, AP_OK when
 * there is no Location (the response is the answer), or an error. */
static int simple_redirect(simple_req *q, apx_error *err)
{
    char *loc = NULL, *h, u[512];
    curl_easy_getinfo(q->e, CURLINFO_REDIRECT_URL, &loc);
    if (!loc || !*loc)
        return AP_OK;
    if (++q->redirects > MAX_REDIRECTS)
        return apx_error_set(err, AP_EHTTP,
                             "%s: too many redirects (more than "
                             "%d; redirect loop?)",
                             apx_url_msg(q->url, u, sizeof u), MAX_REDIRECTS);
    if (!(h = apx_strdup(loc)))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    free(q->cur);
    q->cur = h;
    q->attempt = 0;
    return SIMPLE_AGAIN;
}

/* What the finished attempt means: SIMPLE_AGAIN, AP_OK (the response is
 * the answer) or the status to end with. */
static int simple_judge(simple_req *q, CURLcode res, int done,
                        apx_error *err)
{
    char u[512];
    long status = 0;
    int rc;
    if ((rc = simple_stopped(q, 1, err)) != AP_OK)
        return rc;
    if (q->c.oom)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (q->c.hdr_too_big)
        return apx_error_set(err, AP_EPROTOCOL,
                             "%s: response headers exceed %u bytes",
                             apx_url_msg(q->cur, u, sizeof u), HDR_MAX);
    if (q->c.too_big)
        return apx_error_set(err, AP_ESIZE,
                             "%s: response body exceeds %zu bytes",
                             apx_url_msg(q->cur, u, sizeof u), q->c.max);
    curl_easy_getinfo(q->e, CURLINFO_RESPONSE_CODE, &status);
    if (!done || res != CURLE_OK)
        return simple_transport_failed(q, res, err);
    if (apx_http_status_retryable(status) &&
        q->attempt + 1 < SIMPLE_ATTEMPTS && q->c.retry_after_ms <= 30000) {
        uint64_t d = apx_backoff_ms(&q->rng, 250, ++q->attempt);
        return simple_wait(q, q->c.retry_after_ms > d ? q->c.retry_after_ms
                                                      : d);
    }
    if (q->follow && status >= 300 && status < 400 && status != 304)
        return simple_redirect(q, err);
    return AP_OK;
}

/* One attempt at q->cur: SIMPLE_AGAIN, AP_OK or the status to end with. */
static int simple_attempt(simple_req *q, apx_error *err)
{
    struct curl_slist *hl;
    CURLcode res;
    int oom = 0, done, rc;
    if (!(q->cancel && ap_cancel_is_set(q->cancel)) && !q->trc)
        q->trc = apx_tick(0);
    if ((rc = simple_stopped(q, 0, err)) != AP_OK)
        return rc;
    free(q->c.body);
    q->c.body = NULL;
    q->c.len = q->c.cap = 0;
    q->c.too_big = 0;
    q->c.hdr_bytes = 0;
    q->c.hdr_too_big = 0;
    simple_clear_headers(&q->c);
    q->errbuf[0] = '\0';
    hl = apx_req_headers(q->cur, q->orig_host, q->headers, q->bearer, NULL,
                         NULL, &oom);
    if (oom) {
        apx_req_free_headers(hl);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    simple_setup(q, hl);
    res = simple_perform(q, &done);
    apx_req_free_headers(hl);
    return simple_judge(q, res, done, err);
}

/* Hand the final response over to out. */
static int simple_deliver(simple_req *q, apx_http_result *out,
                          apx_error *err)
{
    curl_easy_getinfo(q->e, CURLINFO_RESPONSE_CODE, &out->status);
    out->url = q->cur;
    q->cur = NULL;
    out->body = q->c.body ? q->c.body : apx_strdup("");
    out->body_len = q->c.len;
    q->c.body = NULL;
    if (!q->c.hdrs)
        q->c.hdrs = apx_calloc(1, sizeof *q->c.hdrs);
    out->headers = q->c.hdrs;
    q->c.hdrs = NULL;
    q->c.nh = 0;
    if (!out->body || !out->headers) {
        apx_http_result_clear(out);
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    }
    return AP_OK;
}

int apx_http_simple(const char *method, const char *url,
                    const char *const *headers, const char *bearer,
                    int follow, size_t max_body, ap_cancel_token *cancel,
                    const apx_http_opts *opts, apx_http_result *out,
                    apx_error *err)
{
    simple_req *q;
    unsigned window_ms = opts && opts->min_rate_window_ms
                             ? opts->min_rate_window_ms : 60000;
    char u[512];
    int rc;
    if (!url || !out)
        return apx_error_set(err, AP_EINVAL, "apx_http_simple: bad arguments");
    memset(out, 0, sizeof *out);
    if (!(q = apx_calloc(1, sizeof *q)))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    q->method = method ? method : "GET";
    q->url = url;
    q->headers = headers;
    q->bearer = bearer;
    q->follow = follow;
    q->cancel = cancel;
    q->ca_file = opts ? opts->ca_file : NULL;
    q->min_rate = opts && opts->min_rate ? opts->min_rate : 1024;
    q->window_s = (long)((window_ms + 999) / 1000);
    q->c.max = max_body ? max_body : SIMPLE_MAX_BODY;
    q->rng = apx_now_ms() ^ (uintptr_t)q;
    q->cfd = cancel ? ap_cancel_token_fd(cancel) : -1;
    q->cur = apx_strdup(url);
    q->orig_host = apx_url_origin(url);
    q->multi = curl_multi_init();
    q->e = curl_easy_init();
    if (!q->cur || !q->multi || !q->e)
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
    else if (!q->orig_host)
        rc = apx_error_set(err, AP_EINVAL, "bad URL '%s'",
                           apx_url_msg(url, u, sizeof u));
    else
        while ((rc = simple_attempt(q, err)) == SIMPLE_AGAIN)
            ;
    if (rc == AP_OK)
        rc = simple_deliver(q, out, err);
    simple_clear_headers(&q->c);
    free(q->c.hdrs);
    free(q->c.body);
    free(q->cur);
    free(q->orig_host);
    if (q->e)
        curl_easy_cleanup(q->e);
    if (q->multi)
        curl_multi_cleanup(q->multi);
    free(q);
    return rc;
}
