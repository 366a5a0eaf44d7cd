/* libartifactprov — the small-request client: one HTTP request with its
 * body in memory (vendor API calls, manifests), retried by the engine's
 * policy (lib/retry.h), redirects followed by hand so that credentials stay
 * with their origin.  Large files go through apx_fetch (lib/engine.h).
 * SPDX-License-Identifier: MIT */
#ifndef AP_HTTP_CLIENT_H
#define AP_HTTP_CLIENT_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* A simple request for vendors (metadata): body in memory. */
typedef struct apx_http_opts {
    const char *ca_file;          /* PEM CA bundle instead of the system's */
    uint64_t min_rate;            /* bytes/s; slower over the window: the
                                     attempt fails (0: 1024) */
    unsigned min_rate_window_ms;  /* 0: 60000 (whole seconds for libcurl) */
} apx_http_opts;

typedef struct apx_http_result {
    long status;
    char *url;            /* effective URL */
    char *body;
    size_t body_len;
    char **headers;       /* "name: value" pairs as received, NULL-terminated */
} apx_http_result;

APX_HIDDEN int apx_http_simple(const char *method, const char *url,
                               const char *const *headers,
                               const char *bearer, int follow,
                               size_t max_body, ap_cancel_token *cancel,
                               const apx_http_opts *opts,
                               apx_http_result *out, apx_error *err);
APX_HIDDEN void apx_http_result_clear(apx_http_result *r);
APX_HIDDEN const char *apx_http_result_header(const apx_http_result *r,
                                              const char *name);

#endif
