/* libartifactprov — small internal helpers.  SPDX-License-Identifier: MIT */
#include "internal.h"
#include "fault.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* In a fault build (lib/fault.h) each of these may be told to fail. */
#ifdef AP_FAULT_INJECTION
#define ALLOC_FAILS() apx_fault_alloc_fails()
#else
#define ALLOC_FAILS() 0
#endif
void *apx_malloc(size_t n) { return ALLOC_FAILS() ? NULL : malloc(n ? n : 1); }
void *apx_calloc(size_t n, size_t size)
{
    return ALLOC_FAILS() ? NULL : calloc(n ? n : 1, size ? size : 1);
}
void *apx_realloc(void *p, size_t n) { return ALLOC_FAILS() ? NULL : realloc(p, n ? n : 1); }

AP_EXPORT void ap_free(void *ptr) { free(ptr); }

char *apx_strdup(const char *s)
{
    return s ? apx_strndup(s, strlen(s)) : NULL;
}

char *apx_strndup(const char *s, size_t n)
{
    char *p;
    if (!s)
        return NULL;
    p = apx_malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *apx_asprintf(const char *fmt, ...)
{
    va_list ap, ap2;
    int n;
    char *p;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(p = apx_malloc((size_t)n + 1))) {
        va_end(ap2);
        return NULL;
    }
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

uint64_t apx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t apx_wall_s(void)
{
    return (int64_t)time(NULL);
}

char *apx_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    return apx_asprintf("%.*s/%s", (int)la, a, b);
}

int apx_mkdirs(const char *path)
{
    char *p = apx_strdup(path), *s;
    int rc = AP_OK;
    if (!p)
        return AP_ENOMEM;
    for (s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                rc = AP_EIO;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    if (rc == AP_OK) {
        struct stat st;
        if (stat(path, &st) != 0)
            rc = AP_EIO; /* errno says why */
        else if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR; /* not the EEXIST of the mkdir that found it */
            rc = AP_EIO;
        }
    }
    free(p);
    return rc;
}

void apx_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int apx_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int apx_is_lower_hex(const char *s, size_t n)
{
    size_t i;
    if (!s)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

int apx_is_sha256_hex(const char *s)
{
    return apx_is_lower_hex(s, 64);
}

/* Copy src to dst (truncating to dstsz), replacing the userinfo of every
 * "scheme://user:pass@host" in it by "***".  The authority ends at '/',
 * '?', '#', whitespace, a quote or the end of the text. */
void apx_text_redact(char *dst, size_t dstsz, const char *src)
{
    size_t o = 0;
    const char *p = src;
    if (!dstsz)
        return;
    while (*p && o + 1 < dstsz) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            const char *auth = p + 3, *end = auth, *at = NULL, *q;
            end += strcspn(auth, "/?#\"' \t\r\n<>");
            for (q = auth; q < end; q++)
                if (*q == '@')
                    at = q;
            if (at) {
                const char *put = "://***";
                for (; *put && o + 1 < dstsz; put++)
                    dst[o++] = *put;
                p = at;
                continue;
            }
        }
        dst[o++] = *p++;
    }
    dst[o] = '\0';
}

/* A URL fit to print or store: userinfo ("user:pass@") in the authority
 * is replaced by "***@".  NULL in, NULL out. */
char *apx_url_redact(const char *url)
{
    const char *auth, *end, *at = NULL, *p;
    char *out;
    if (!url)
        return NULL;
    auth = strstr(url, "://");
    if (!auth)
        return apx_strdup(url);
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    for (p = auth; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return apx_strdup(url);
    out = apx_malloc(strlen(url) + 4);
    if (!out)
        return NULL;
    memcpy(out, url, (size_t)(auth - url));
    strcpy(out + (auth - url), "***");
    strcat(out, at);
    return out;
}
