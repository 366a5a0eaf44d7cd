/* libartifactprov — request setup shared by the engine and the
 * small-request client (lib/http_request.h).
 * SPDX-License-Identifier: MIT */
#include "http_request.h"
#include "http_parse.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define USER_AGENT "libartifactprov/" AP_VERSION_STRING

/* URL fit for a message: credentials ("user:pass@") redacted, query and
 * fragment cut (signed URLs must not end up in logs). */
const char *apx_url_msg(const char *url, char *buf, size_t size)
{
    char *r = apx_url_redact(url ? url : "");
    const char *src = r ? r : "(url)";
    size_t n = strcspn(src, "?#");
    if (n >= size)
        n = size - 1;
    memcpy(buf, src, n);
    buf[n] = '\0';
    free(r);
    return buf;
}

struct curl_slist *apx_req_add_header(struct curl_slist *l, const char *h,
                                     int *oom)
{
    struct curl_slist *n = curl_slist_append(l, h);
    if (!n) {
        *oom = 1;
        return l;
    }
    return n;
}

/* Free a header list, wiping the bearer token it may carry first. */
void apx_req_free_headers(struct curl_slist *l)
{
    struct curl_slist *i;
    for (i = l; i; i = i->next)
        if (i->data && strncasecmp(i->data, "Authorization:", 14) == 0)
            sodium_memzero(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

void apx_req_common_opts(CURL *e, char *errbuf, const char *ca_file)
{
    if (ca_file && *ca_file) {
        /* this bundle instead of the system's trust store */
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* Headers for a request to `url`: extras and the bearer only to the exact
 * origin (scheme, host and port) of the caller's URL -- never after a
 * redirect to another port or scheme, plain http included; bearer_host,
 * when given, narrows the bearer further to that host. */
struct curl_slist *apx_req_headers(const char *url,
                                          const char *orig_origin,
                                          const char *const *extra,
                                          const char *bearer,
                                          const char *bearer_host,
                                          struct curl_slist *l, int *oom)
{
    char *o = apx_url_origin(url);
    int same = o && orig_origin && strcmp(o, orig_origin) == 0;
    free(o);
    l = apx_req_add_header(l, "Accept-Encoding: identity", oom);
    if (extra && same)
        for (; *extra; extra++)
            l = apx_req_add_header(l, *extra, oom);
    if (bearer && *bearer && same &&
        (!bearer_host || apx_host_matches(url, bearer_host))) {
        char *a = apx_asprintf("Authorization: Bearer %s", bearer);
        if (!a)
            *oom = 1;
        else {
            l = apx_req_add_header(l, a, oom);
            sodium_memzero(a, strlen(a));
            free(a);
        }
    }
    return l;
}

/* A certificate or TLS set-up failure: retrying cannot help. */
int apx_curl_tls_error(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION ||
           rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
           rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_ISSUER_ERROR ||
           rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}
