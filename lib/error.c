/* libartifactprov — the error channel: status strings (ap_strerror), the
 * thread's last error (ap_error_last) and the apx_error records every
 * handle keeps, whose messages are redacted of credentials once, here.
 * SPDX-License-Identifier: MIT */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

AP_EXPORT const char *ap_strerror(int status)
{
    switch ((ap_status)status) {
    case AP_OK: return "success";
    case AP_ERROR: return "unclassified error";
    case AP_EINVAL: return "invalid argument or reference";
    case AP_ENOMEM: return "out of memory";
    case AP_EIO: return "local I/O error";
    case AP_ENOTFOUND: return "not found";
    case AP_EAUTH: return "authentication required or refused";
    case AP_EGATED: return "gated: accept the licence first";
    case AP_EDIGEST: return "digest mismatch";
    case AP_ESIZE: return "size mismatch or truncated data";
    case AP_ECANCELLED: return "cancelled";
    case AP_ENETWORK: return "network error";
    case AP_EHTTP: return "unexpected HTTP status";
    case AP_EPROTOCOL: return "protocol error";
    case AP_ENOSPC: return "not enough disk space";
    case AP_EVENDOR: return "vendor error";
    case AP_EABI: return "vendor ABI mismatch";
    case AP_EUNSUPPORTED: return "not supported";
    case AP_EBUSY: return "busy";
    case AP_ERATELIMIT: return "rate limited";
    case AP_EOFFLINE: return "offline and not available locally";
    case AP_EUSER: return "aborted by a callback";
    case AP_EEXIST: return "already exists";
    case AP_ECORRUPT: return "corrupt data";
    case AP_EPATH: return "invalid or hostile path";
    case AP_ETIMEDOUT: return "timed out";
    }
    return "unknown status code";
}

/* The thread-local last error (see ap_error_last() in common.h): a fixed
 * buffer per thread, so recording an error never allocates (it cannot
 * fail, also when the failure being recorded is AP_ENOMEM) and nothing has
 * to be freed when the thread exits. */
static _Thread_local struct {
    ap_error pub;
    char msg[APX_ERRMSG_MAX];
} tls_err;

static void tls_store(int status, const char *msg)
{
    size_t n = strlen(msg);
    if (n >= sizeof tls_err.msg)
        n = sizeof tls_err.msg - 1;
    memmove(tls_err.msg, msg, n);
    tls_err.msg[n] = '\0';
    tls_err.pub.status = status;
}

void apx_error_publish(const apx_error *e)
{
    if (e && e->status < 0)
        tls_store(e->status, e->msg[0] ? e->msg : ap_strerror(e->status));
}

void apx_error_tls_reset(void)
{
    tls_err.pub.status = AP_OK;
    tls_err.msg[0] = '\0';
}

int apx_error_tls_ret(int status)
{
    if (status < 0) {
        if (tls_err.pub.status == AP_OK || !tls_err.msg[0])
            tls_store(status, ap_strerror(status));
        else
            tls_err.pub.status = status; /* the detail of this call's failure,
                                            under the status it returns */
    }
    return status;
}

AP_EXPORT const ap_error *ap_error_last(void)
{
    tls_err.pub.message = tls_err.msg;
    return &tls_err.pub;
}

AP_EXPORT void ap_error_clear(void)
{
    apx_error_tls_reset();
}

int apx_error_vset(apx_error *e, int status, const char *fmt, va_list ap)
{
    char raw[APX_ERRMSG_MAX], msg[APX_ERRMSG_MAX];
    vsnprintf(raw, sizeof raw, fmt, ap);
    /* credentials in any URL quoted by any message are dropped here,
     * once, for every error the library reports or records */
    apx_text_redact(msg, sizeof msg, raw);
    apx_wipe(raw, sizeof raw); /* the unredacted text may hold credentials */
    if (e) {
        e->status = status;
        memcpy(e->msg, msg, strlen(msg) + 1); /* both APX_ERRMSG_MAX */
    }
    /* every detailed error is also the calling thread's last error, so a
     * handle's *_errmsg() and ap_error_last() agree */
    if (status < 0)
        tls_store(status, msg);
    return status;
}

int apx_error_set(apx_error *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    apx_error_vset(e, status, fmt, ap);
    va_end(ap);
    return status;
}

void apx_error_prefix(apx_error *e, const char *fmt, ...)
{
    char prefix[APX_ERRMSG_MAX], old[APX_ERRMSG_MAX];
    va_list ap;
    if (!e)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    {
        size_t lp = strlen(prefix), lo = strlen(old), cap = sizeof e->msg - 1;
        if (lp > cap)
            lp = cap;
        memcpy(e->msg, prefix, lp);
        if (lp + 2 <= cap) {
            memcpy(e->msg + lp, ": ", 2);
            lp += 2;
        }
        if (lo > cap - lp)
            lo = cap - lp;
        memcpy(e->msg + lp, old, lo);
        e->msg[lp + lo] = '\0';
    }
    if (strstr(e->msg, "://")) {
        memcpy(old, e->msg, sizeof old);
        apx_text_redact(e->msg, sizeof e->msg, old);
    }
    /* both held text before redaction: credentials are wiped, not left on
     * the stack */
    apx_wipe(prefix, sizeof prefix);
    apx_wipe(old, sizeof old);
    apx_error_publish(e);
}

void apx_error_clear(apx_error *e)
{
    if (e) {
        e->status = 0;
        e->msg[0] = '\0';
    }
}
