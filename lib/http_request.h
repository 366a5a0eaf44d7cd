/* libartifactprov — what every HTTP request of the library shares, the
 * engine's ranged transfers (lib/engine.c) and the small-request client
 * (lib/http_client.c): libcurl options, the request headers (extras and
 * the bearer only to the caller's origin), URLs fit for messages, the
 * curl codes that no retry can help.
 * SPDX-License-Identifier: MIT */
#ifndef AP_HTTP_REQUEST_H
#define AP_HTTP_REQUEST_H

#include "internal.h"

#include <curl/curl.h>
#include <stddef.h>

#define MAX_REDIRECTS 10
#define HDR_MAX (256u * 1024u)      /* response header bytes kept/accepted */

/* URL fit for a message: credentials ("user:pass@") redacted, query and
 * fragment cut (signed URLs must not end up in logs).  Returns buf. */
APX_HIDDEN const char *apx_url_msg(const char *url, char *buf, size_t size);

/* Append header h to l; on failure sets *oom and returns l unchanged. */
APX_HIDDEN struct curl_slist *apx_req_add_header(struct curl_slist *l,
                                                 const char *h, int *oom);

/* Free a header list, wiping the bearer token it may carry first. */
APX_HIDDEN void apx_req_free_headers(struct curl_slist *l);

/* Options every request sets: CA bundle (NULL: the system's), no signals,
 * no automatic redirects, the User-Agent, the error buffer, keep-alive,
 * http and https only. */
APX_HIDDEN void apx_req_common_opts(CURL *e, char *errbuf,
                                    const char *ca_file);

/* Headers for a request to `url`: extras and the bearer only to the exact
 * origin (scheme, host and port) of the caller's URL -- never after a
 * redirect to another port or scheme, plain http included; bearer_host,
 * when given, narrows the bearer further to that host.  Appended to l;
 * *oom set on failure. */
APX_HIDDEN struct curl_slist *apx_req_headers(const char *url,
                                              const char *orig_origin,
                                              const char *const *extra,
                                              const char *bearer,
                                              const char *bearer_host,
                                              struct curl_slist *l, int *oom);

/* A certificate or TLS set-up failure: retrying cannot help. */
APX_HIDDEN int apx_curl_tls_error(CURLcode rc);

#endif
