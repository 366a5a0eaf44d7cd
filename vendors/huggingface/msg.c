/* libartifactprov — Hugging Face vendor: the call's error and log
 * messages, prefixed with the reference.  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <stdarg.h>
#include <stdio.h>

int hfv_fail(hfv_ctx *c, int status, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return c->host->set_error(c->call, status, "%s: %s", c->ref, buf);
}

void hfv_log(hfv_ctx *c, int level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (!AP_HOST_HAS(c->host, log))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->host->log(c->call, level, "%s: %s", c->ref, buf);
}
