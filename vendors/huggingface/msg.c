/* libartifactprov — Hugging Face vendor: the call's error and log
 * messages, prefixed with the reference.  SPDX-License-Identifier: MIT */
#include "hf.h"

#include <stdarg.h>
#include <stdio.h>

int hfv_fail(hfv_ctx *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    status = apv_vfail(c->host, c->call, c->ref, status, fmt, ap);
    va_end(ap);
    return status;
}

void hfv_log(hfv_ctx *c, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    apv_vlog(c->host, c->call, c->ref, level, fmt, ap);
    va_end(ap);
}
