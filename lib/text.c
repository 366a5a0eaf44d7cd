/* libartifactprov — text the library hands out: valid UTF-8 (a server's
 * bytes may not be) and sizes for people ("976.6 KiB").  The tools use the
 * same two calls, so there is one copy of each.
 * SPDX-License-Identifier: MIT */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p, of at most avail bytes (RFC
 * 3629: no overlong form, no surrogate, at most U+10FFFF), 0 when it is not
 * one.  A NUL-terminated string may pass 4: its NUL ends any sequence. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    size_t n, i;
    unsigned long cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > avail)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

AP_EXPORT char *ap_utf8_repair(const char *s)
{
    char *fixed;
    const unsigned char *p;
    size_t o = 0, k;
    if (!s || !(fixed = apx_malloc(strlen(s) * 3 + 1)))
        return NULL;
    for (p = (const unsigned char *)s; *p;) {
        if ((k = utf8_seq(p, 4)) > 0) {
            memcpy(fixed + o, p, k);
            o += k;
            p += k;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    fixed[o] = '\0';
    return fixed;
}

int apx_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    size_t k;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        if ((k = utf8_seq(p, (size_t)(end - p))) == 0)
            return 0;
        p += k;
    }
    return 1;
}

AP_EXPORT int ap_format_size(uint64_t bytes, char *buf, size_t size)
{
    static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int i = 0;
    while (v >= 1024.0 && i < 4) {
        v /= 1024.0;
        i++;
    }
    return snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}
