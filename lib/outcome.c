/* libartifactprov — the classification of a finished transfer
 * (lib/outcome.h).
 * SPDX-License-Identifier: MIT */
#include "outcome.h"
#include "http_request.h"
#include "retry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set(apx_outcome *o, apx_outcome_kind kind, int status, int by,
                const char *fmt, ...) AP_PRINTF(5, 6);
static void set(apx_outcome *o, apx_outcome_kind kind, int status, int by,
                const char *fmt, ...)
{
    va_list ap;
    o->kind = kind;
    o->status = status;
    o->by = by;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof o->msg, fmt, ap);
    va_end(ap);
}

/* The file fails: "<name>: <msg>", the sidecar written first when sync. */
#define FAIL(o, st, sync_, by, ...) \
    ((o)->sync = (sync_), set((o), OUT_FAIL, (st), (by), __VA_ARGS__))

/* Another attempt of the range. */
static void retry(apx_outcome *o, int cls, long http, uint64_t ra, int fresh,
                  const char *cause)
{
    set(o, OUT_RETRY, cls, BY_NONE, "%s", cause);
    o->http = http;
    o->retry_after_ms = ra;
    o->fresh = fresh;
}

/* What the callbacks or validation stopped the transfer for; 0 when
 * their reason leaves the answer to the response. */
static int by_reason(const apx_xfer_facts *in, const char *cause,
                     apx_outcome *o)
{
    switch (in->reason) {
    case R_ENOSPC:
        set(o, OUT_NOSPACE, AP_ENOSPC, BY_LABEL, "%s", cause);
        return 1;
    case R_EIO:
        FAIL(o, AP_EIO, 0, BY_LABEL, "%s", cause);
        return 1;
    case R_TOOBIG:
        FAIL(o, AP_ESIZE, 0, BY_LABEL, "%s", cause);
        return 1;
    case R_HEADERS:
        FAIL(o, AP_EPROTOCOL, 1, BY_URL, "%s", cause);
        return 1;
    case R_USER:
        set(o, OUT_ABORT, AP_EUSER, BY_LABEL, "aborted by the progress sink");
        return 1;
    case R_BADRANGE:
        if (!in->ranges_broken)
            set(o, OUT_NO_RANGES, 0, BY_LABEL,
                "%s; falling back to one stream without ranges", cause);
        else
            retry(o, AP_EPROTOCOL, 0, 0, 0, cause);
        return 1;
    case R_RESET:
        if (in->resets + 1 > MAX_RESETS)
            FAIL(o, AP_EPROTOCOL, 1, BY_URL, "%s (%u times)", cause,
                 in->resets + 1);
        else
            set(o, OUT_RESTART, 0, BY_LABEL, "%s; restarting from byte 0",
                cause);
        return 1;
    case R_SIZE:
        retry(o, AP_ESIZE, 0, 0, 0, cause);
        return 1;
    default:
        return 0;
    }
}

static void by_redirect(const apx_xfer_facts *in, apx_outcome *o)
{
    char u[512];
    if (!in->location || !*in->location)
        FAIL(o, AP_EHTTP, 1, BY_URL, "HTTP %ld without a Location",
             in->status);
    else if (in->redirects + 1 > MAX_REDIRECTS)
        FAIL(o, AP_EHTTP, 1, BY_FIRST_URL,
             "too many redirects (more than %d; redirect loop? last "
             "Location %s)", MAX_REDIRECTS,
             apx_url_msg(in->location, u, sizeof u));
    else
        set(o, OUT_REDIRECT, 0, BY_NONE, "%s", in->location);
}

/* A 416 whose Content-Range gives the entity's size: 1 when decided. */
static int by_416(const apx_xfer_facts *in, apx_outcome *o)
{
    uint64_t pos = in->start + in->got;
    if (in->cr_total == pos &&
        (in->mode != M_RANGED || in->total == in->cr_total)) {
        /* nothing left: the entity is exactly `pos` bytes */
        if (in->expect != UNK && in->cr_total != in->expect)
            retry(o, AP_ESIZE, 0, 0, 0, "server reports a different size");
        else
            set(o, OUT_NOTHING_LEFT, 0, BY_NONE, "%s", "");
        return 1;
    }
    if (in->mode != M_PROBE || in->resets < MAX_RESETS) {
        set(o, OUT_RESTART, 0, BY_NONE, "range not satisfiable: restarting");
        return 1;
    }
    return 0;
}

/* An HTTP error (or a status the engine cannot use). */
static void by_status(const apx_xfer_facts *in, apx_outcome *o)
{
    long st = in->status;
    char c[64];
    /* A 403 that says it is a rate limit (X-RateLimit-Remaining: 0, or
     * a Retry-After, as GitHub sends) is one: waited out like a 429,
     * not an authentication failure. */
    if (st == 404 || st == 410) {
        FAIL(o, AP_ENOTFOUND, 1, BY_URL, "HTTP %ld", st);
    } else if (st == 403 && (in->ratelimited || in->retry_after_ms)) {
        retry(o, AP_EHTTP, 429, in->retry_after_ms, 0,
              "HTTP 403 (rate limited)");
    } else if (st == 401 || st == 403) {
        FAIL(o, AP_EAUTH, 1, BY_URL, "HTTP %ld", st);
    } else if (apx_http_status_retryable(st)) {
        snprintf(c, sizeof c, "HTTP %ld", st);
        retry(o, AP_EHTTP, st, in->retry_after_ms, 0, c);
    } else {
        FAIL(o, AP_EHTTP, 1, BY_URL, "HTTP %ld", st);
    }
}

/* The response was usable: how far did the body get? */
static void by_body(const apx_xfer_facts *in, const char *cause,
                    apx_outcome *o)
{
    char c[256];
    o->clear_redirects = 1;
    if (in->end != UNK && in->start + in->got >= in->end) {
        set(o, OUT_RANGE_DONE, 0, BY_NONE, "%s", "");
    } else if (in->end == UNK && in->rc == CURLE_OK) {
        /* unknown length: ends when the server ends cleanly */
        set(o, OUT_BODY_END, 0, BY_NONE, "%s", "");
    } else if (in->stalled && in->slow) {
        snprintf(c, sizeof c,
                 "slower than %llu bytes/s over %.1f s (%llu bytes)",
                 (unsigned long long)in->min_rate,
                 in->min_rate_window_ms / 1000.0,
                 (unsigned long long)in->slow_bytes);
        retry(o, AP_ENETWORK, 0, 0, 1, c);
    } else if (in->stalled) {
        snprintf(c, sizeof c, "no data for %.1f s",
                 in->stall_timeout_ms / 1000.0);
        retry(o, AP_ENETWORK, 0, 0, 1, c);
    } else if (in->end == UNK && in->rc == CURLE_PARTIAL_FILE) {
        snprintf(c, sizeof c, "connection closed after %llu bytes of a body "
                 "of unknown length", (unsigned long long)in->got);
        retry(o, AP_ESIZE, 0, 0, 0, c);
    } else if (in->rc == CURLE_OK || in->rc == CURLE_PARTIAL_FILE) {
        snprintf(c, sizeof c, "truncated body: got %llu of %llu bytes",
                 (unsigned long long)in->got,
                 (unsigned long long)(in->end - in->start));
        retry(o, AP_ESIZE, 0, 0, 0, c);
    } else if (apx_curl_tls_error(in->rc)) {
        FAIL(o, AP_ENETWORK, 1, BY_URL, "TLS: %s", cause);
    } else if (in->rc == CURLE_OUT_OF_MEMORY && !in->validated) {
        /* libcurl refuses a header line over CURL_MAX_HTTP_HEADER
         * (100 KiB) with this code, before our callback sees it */
        FAIL(o, AP_EPROTOCOL, 1, BY_URL, "response headers refused (a "
             "header line over 100 KiB?): %s", cause);
    } else {
        retry(o, AP_ENETWORK, 0, 0, in->rc == CURLE_OPERATION_TIMEDOUT,
              cause);
    }
}

void apx_outcome_classify(const apx_xfer_facts *in, apx_outcome *o)
{
    char cause[700];
    memset(o, 0, sizeof *o);
    o->kind = OUT_DROP;
    if (in->dropped)
        return;
    snprintf(cause, sizeof cause, "%s", in->why ? in->why : "");
    if (by_reason(in, cause, o))
        return;
    if (in->redirect) {
        by_redirect(in, o);
        return;
    }
    if (in->status == 416 && in->cr_total != UNK && by_416(in, o))
        return;
    if (in->status >= 400 ||
        (in->status && in->status != 200 && in->status != 206 &&
         in->rc == CURLE_OK)) {
        by_status(in, o);
        return;
    }
    by_body(in, cause, o);
}
