/* apd — its log: one terminal-safe line per message on stderr.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

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

/* Length of the valid UTF-8 sequence at s (C1 controls refused when
 * no_c1); 0 when invalid. */
size_t apd_utf8_len(const unsigned char *s, int no_c1)
{
    unsigned cp, need, i;
    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xC2)
        return 0;
    if (s[0] < 0xE0)
        cp = s[0] & 0x1Fu, need = 1;
    else if (s[0] < 0xF0)
        cp = s[0] & 0x0Fu, need = 2;
    else if (s[0] < 0xF5)
        cp = s[0] & 0x07u, need = 3;
    else
        return 0;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (no_c1 && cp >= 0x80 && cp <= 0x9F))
        return 0;
    return need + 1;
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
        if (*p >= 0x20 && *p != 0x7F && (k = apd_utf8_len(p, 1)) > 0) {
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
