/* libartifactprov — mirrors: other sources of a file whose sha256 is known,
 * tried in order before its origin (docs/fleet.md).
 * SPDX-License-Identifier: MIT */
#ifndef AP_MIRRORS_H
#define AP_MIRRORS_H

#include "engine.h"

typedef struct apx_mirrors apx_mirrors;

/* Parse the mirror list: `specs` (NULL-terminated), or when specs is NULL
 * the whitespace-separated words of `env` (the AP_MIRRORS variable; may be
 * NULL).  Each is "BASE" (content-addressed: BASE/sha256/<hex>) or
 * "PREFIX=BASE" (a URL that starts with PREFIX is fetched from BASE +
 * the rest), both http(s) URLs.  *out is NULL when there is none.
 * AP_EINVAL with a message naming the bad entry. */
APX_HIDDEN int apx_mirrors_parse(const char *const *specs, const char *env,
                                 apx_mirrors **out, apx_error *err);
APX_HIDDEN void apx_mirrors_free(apx_mirrors *ms);
APX_HIDDEN size_t apx_mirrors_count(const apx_mirrors *ms);

/* The URL of `url` (content `sha256`, lower or upper hex) at mirror i, or
 * NULL when that mirror does not apply (apx_malloc'd; NULL also when out
 * of memory). */
APX_HIDDEN char *apx_mirror_url(const apx_mirrors *ms, size_t i,
                                const char *url, const char *sha256);

/* apx_fetch, each file with a sha256 tried at every mirror that applies
 * (in order, one attempt per range, no credentials or extra headers), then
 * at its own URL.  A file that fails at a mirror (a miss, a wrong digest, a
 * mirror down) falls through to the next source, resuming what it left
 * (resume is keyed by content); a cancel, a sink abort or a full disk ends
 * the call.  Each mirror that failed is reported once per parsed list
 * (a job parses its list once and passes it to each of its calls), as one
 * warning on opts->tracker naming how many files had failed there when it
 * was reported and the first cause.  Same results as apx_fetch (bytes_fetched sums every source). */
APX_HIDDEN int apx_fetch_mirrored(const apx_fetch_opts *opts,
                                  apx_mirrors *ms, apx_fetch_file *files,
                                  size_t n, apx_error *err);

#endif
