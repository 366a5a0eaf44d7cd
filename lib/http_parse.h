/* libartifactprov — HTTP parsing of the download engine and its small-request
 * client: header values, Content-Range, Retry-After, strong ETags, a URL's
 * host and origin.  Pure functions (no server needed: t/unit/test_http_parse).
 * SPDX-License-Identifier: MIT */
#ifndef AP_HTTP_PARSE_H
#define AP_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define APX_UNK UINT64_MAX /* an unknown size or position ("*") */

/* Do two host names match (case-insensitive; NULL never matches)? */
APX_HIDDEN int apx_hostcmp(const char *a, const char *b);

/* The host of `url` (apx_malloc'd, lower case), with ":port" (the scheme's
 * default when none is given) when with_port; NULL if it does not parse. */
APX_HIDDEN char *apx_url_host(const char *url, int with_port);

/* Is `url`'s host the one named by `want` ("host" or "host:port")? */
APX_HIDDEN int apx_host_matches(const char *url, const char *want);

/* "scheme://host:port" of url (apx_malloc'd, lower case), the origin a
 * token or an extra header belongs to; NULL if the URL does not parse. */
APX_HIDDEN char *apx_url_origin(const char *url);

/* A header line "Name: value\r\n" (len bytes, not NUL-terminated): when
 * its name is `name` (case-insensitive), the value without the blanks
 * around it into buf (cut to size - 1 bytes), returning buf; else NULL. */
APX_HIDDEN const char *apx_hdr_value(const char *line, size_t len,
                                     const char *name, char *buf,
                                     size_t size);

/* Decimal digits at s (at least one) -> *out, *end after them (end may be
 * NULL): 0; -1 when s does not start with a digit or the value overflows. */
APX_HIDDEN int apx_parse_u64(const char *s, const char **end, uint64_t *out);

/* A Content-Range value: "bytes S-E/T", "bytes S-E/ *" (T = APX_UNK),
 * "bytes * /T" (S = E = APX_UNK) -> 0; -1 for anything else, E < S, or
 * E >= T. */
APX_HIDDEN int apx_parse_content_range(const char *v, uint64_t *s,
                                       uint64_t *e, uint64_t *t);

/* A Retry-After value, seconds or an HTTP date: milliseconds from now (a
 * date in the past, junk: 0; seconds capped at UINT32_MAX). */
APX_HIDDEN uint64_t apx_parse_retry_after(const char *v);

/* Is the ETag strong ("..." rather than W/"...")? */
APX_HIDDEN int apx_is_strong_etag(const char *e);

#endif
