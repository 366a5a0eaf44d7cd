/* apctl — numbers on the command line, sizes for people.
 * SPDX-License-Identifier: MIT
 *
 * Sizes take suffixes as curl, wget and `hf` do: k/K, M, G, T are powers
 * of 1024 (with or without a trailing "iB" or "B": 10M = 10MiB = 10MB =
 * 10485760); a plain number is bytes. */
#include "apctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int apctl_parse_uint(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int apctl_parse_size(const char *s, uint64_t *out)
{
    static const char units[] = "KMGT";
    char *end;
    unsigned long long v;
    const char *u;
    unsigned shift = 0;
    if (!s || !isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end) {
        u = strchr(units, toupper((unsigned char)*end));
        if (!u)
            return -1;
        shift = 10u * (unsigned)(u - units + 1);
        end++;
        if (strcasecmp(end, "ib") != 0 && strcasecmp(end, "b") != 0 && *end)
            return -1;
        if (v > (UINT64_MAX >> shift))
            return -1;
    }
    *out = (uint64_t)v << shift;
    return 0;
}

void human(uint64_t n, char *buf, size_t sz)
{
    (void)ap_format_size(n, buf, sz);
}

void human_secs(double s, char *buf, size_t sz)
{
    unsigned long t;
    if (s < 0 || s > 359999.0) {
        snprintf(buf, sz, "--");
        return;
    }
    t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, sz, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60)
        snprintf(buf, sz, "%lu:%02lu", t / 60, t % 60);
    else
        snprintf(buf, sz, "%lus", t);
}
