/* apd — its log: one terminal-safe line per message on stderr.
 * SPDX-License-Identifier: MIT */
#include "apd.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t apd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The daemon's text output is terminal-safe: C0 and C1 controls, DEL and
 * invalid UTF-8 in a message (which may quote a server or a client) are
 * written as visible escapes (\x1b, \n), once, here.  One fputs per line. */
void apd_log(const char *fmt, ...)
{
    char raw[2048], out[8192];
    const unsigned char *p = (const unsigned char *)raw;
    size_t o, k;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    memcpy(out, "apd: ", 5);
    o = 5;
    while (*p && o + 8 < sizeof out - 1) {
        if (*p >= 0x20 && *p != 0x7F && (k = tool_utf8_len(p, 1)) > 0) {
            memcpy(out + o, p, k);
            o += k;
            p += k;
        } else {
            o += (size_t)snprintf(out + o, sizeof out - o, *p == '\n' ? "\\n"
                                  : *p == '\t' ? "\\t" : "\\x%02x", *p);
            p++;
        }
    }
    out[o++] = '\n';
    out[o] = '\0';
    fputs(out, stderr);
}
