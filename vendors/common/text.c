/* libartifactprov — in-tree vendors' shared code: strings (a formatted
 * malloc'd string; percent-decoding of a reference's escaped part; a call's
 * error and log messages prefixed with its reference).
 * SPDX-License-Identifier: MIT */
#include "apv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

char *apv_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *out = NULL;
    int n;
    va_start(ap, fmt);
    n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

char *apv_pct_decode(const char *s, size_t n, int reject_ctl, int *bad)
{
    char *out = malloc(n + 1), *o = out;
    size_t i;
    *bad = 0;
    if (!out)
        return NULL;
    for (i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 ||
                hexval((unsigned char)s[i + 2]) < 0) {
                *bad = 1;
                free(out);
                return NULL;
            }
            ch = hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
            i += 2;
        }
        if (reject_ctl && (ch < 0x20 || ch == 0x7f)) {
            *bad = 1;
            free(out);
            return NULL;
        }
        *o++ = (char)ch;
    }
    *o = '\0';
    return out;
}

int apv_vfail(const ap_host *h, ap_vendor_call *call, const char *ref,
              int status, const char *fmt, va_list ap)
{
    char buf[1536];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return h->set_error(call, status, "%s: %s", ref, buf);
}

void apv_vlog(const ap_host *h, ap_vendor_call *call, const char *ref,
              int level, const char *fmt, va_list ap)
{
    char buf[1536];
    if (!AP_HOST_HAS(h, log) || !h->log)
        return;
    vsnprintf(buf, sizeof buf, fmt, ap);
    h->log(call, level, "%s: %s", ref, buf);
}
