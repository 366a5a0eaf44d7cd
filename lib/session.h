/* libartifactprov — a job's engine session: what outlives one engine call
 * (apx_fetch) when a job fetches its files in several batches: the parsed
 * mirror list with what failed at each mirror (reported once per job), and
 * a connection cache (connections, DNS and TLS sessions reused by the next
 * batch instead of reconnecting).
 * SPDX-License-Identifier: MIT */
#ifndef AP_SESSION_H
#define AP_SESSION_H

#include "mirrors.h"

typedef struct apx_session apx_session;

/* A session with the mirror list of `specs`, or when specs is NULL of
 * `env` (as apx_mirrors_parse).  AP_EINVAL names a bad mirror; AP_ENOMEM. */
APX_HIDDEN int apx_session_new(const char *const *specs, const char *env,
                               apx_session **out, apx_error *err);
APX_HIDDEN void apx_session_free(apx_session *s);

/* apx_fetch_mirrored through the session's mirrors and connection cache
 * (opts->share is the session's).  One thread at a time per session. */
APX_HIDDEN int apx_session_fetch(apx_session *s, const apx_fetch_opts *opts,
                                 apx_fetch_file *files, size_t n,
                                 apx_error *err);

#endif
