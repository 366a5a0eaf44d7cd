/* libartifactprov — HTTP parsing (lib/http_parse.h).
 * SPDX-License-Identifier: MIT */
#include "http_parse.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int apx_hostcmp(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

/* host of url (apx_malloc'd, lower case), with ":port" when with_port. */
char *apx_url_host(const char *url, int with_port)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL, *res = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (with_port &&
            curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
                CURLUE_OK)
            res = apx_asprintf("%s:%s", host, port);
        else
            res = apx_strdup(host);
        if (res)
            for (char *p = res; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return res;
}

/* Is `url`'s host the one named by `want` ("host" or "host:port")? */
int apx_host_matches(const char *url, const char *want)
{
    char *h;
    int r;
    if (!url || !want)
        return 0;
    h = apx_url_host(url, strchr(want, ':') != NULL);
    r = apx_hostcmp(h, want);
    free(h);
    return r;
}

/* "scheme://host:port" of url (apx_malloc'd, lower case), the origin a
 * token or an extra header belongs to; NULL if the URL does not parse. */
char *apx_url_origin(const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *res = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
            CURLUE_OK) {
        res = apx_asprintf("%s://%s:%s", scheme, host, port);
        if (res)
            for (char *p = res; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return res;
}

/* Header line helpers: "Name: value\r\n" -> value (trimmed) or NULL. */
const char *apx_hdr_value(const char *line, size_t len, const char *name,
                             char *buf, size_t size)
{
    size_t nl = strlen(name), i, j;
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return NULL;
    i = nl + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    j = len;
    while (j > i && (line[j - 1] == '\r' || line[j - 1] == '\n' ||
                     line[j - 1] == ' ' || line[j - 1] == '\t'))
        j--;
    if (j - i >= size)
        j = i + size - 1;
    memcpy(buf, line + i, j - i);
    buf[j - i] = '\0';
    return buf;
}

int apx_parse_u64(const char *s, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    *out = v;
    if (end)
        *end = p;
    return 0;
}

/* "bytes S-E/T", "bytes S-E/ *", "bytes * /T" -> 0, else -1. */
int apx_parse_content_range(const char *v, uint64_t *s, uint64_t *e,
                               uint64_t *t)
{
    const char *p = v;
    if (strncasecmp(p, "bytes", 5) != 0)
        return -1;
    p += 5;
    while (*p == ' ')
        p++;
    if (*p == '*') {
        *s = *e = APX_UNK;
        p++;
    } else {
        if (apx_parse_u64(p, &p, s) || *p++ != '-' || apx_parse_u64(p, &p, e) ||
            *e < *s)
            return -1;
    }
    if (*p++ != '/')
        return -1;
    if (*p == '*') {
        *t = APX_UNK;
        return p[1] == '\0' ? 0 : -1;
    }
    if (apx_parse_u64(p, &p, t) || *p)
        return -1;
    if (*s != APX_UNK && *e >= *t)
        return -1;
    return 0;
}

/* Retry-After: seconds or an HTTP date; milliseconds, or 0. */
uint64_t apx_parse_retry_after(const char *v)
{
    uint64_t secs;
    const char *end;
    if (apx_parse_u64(v, &end, &secs) == 0 && *end == '\0')
        return secs > UINT32_MAX ? (uint64_t)UINT32_MAX * 1000 : secs * 1000;
    {
        time_t t = curl_getdate(v, NULL);
        int64_t now = apx_wall_s();
        if (t > 0 && (int64_t)t > now)
            return (uint64_t)((int64_t)t - now) * 1000;
    }
    return 0;
}

int apx_is_strong_etag(const char *e)
{
    return e && e[0] == '"';
}
