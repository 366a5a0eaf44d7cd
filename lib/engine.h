/* libartifactprov — internal interface of the download engine (libcurl).
 * SPDX-License-Identifier: MIT */
#ifndef AP_ENGINE_H
#define AP_ENGINE_H

#include "internal.h"

/* One file to fetch into a staging file. */
typedef struct apx_fetch_file {
    /* in */
    const char *label;            /* for messages and events ("config.json") */
    const char *url;
    const char *const *headers;   /* extra "Name: value", NULL-terminated */
    const char *bearer;           /* sent only to the exact origin (scheme,
                                     host, port) of url, never after a
                                     redirect elsewhere */
    const char *bearer_host;      /* and only while the host is this one
                                     ("host" or "host:port"); may be NULL */
    uint64_t size;                /* expected, or AP_SIZE_UNKNOWN */
    const char *sha256;           /* expected hex, or NULL */
    const char *git_sha1;         /* expected git blob id, or NULL */
    const char *validator;        /* ETag/digest the partial data belongs to */
    const char *staging_path;     /* data file; sidecar = staging_path".state" */
    unsigned max_attempts;        /* per range; 0: the call's max_attempts */
    /* out */
    int status;                   /* AP_OK or negative */
    char sha256_out[65];          /* computed while the bytes arrived */
    uint64_t size_out;
    uint64_t bytes_fetched;       /* transferred by this call (not resumed) */
    size_t ranges_peak;           /* most range entries held at once (the
                                     bookkeeping is bounded by connections,
                                     never by the size; checked by tests) */
    apx_error err;                /* message when status != AP_OK */
    uint64_t tracker_done;        /* what this call added to the tracker's */
    uint64_t tracker_total;       /* done and total figures for the file (a
                                     caller that fetches it again undoes them) */
} apx_fetch_file;

typedef struct apx_fetch_opts {
    ap_cancel_token *cancel;      /* may be NULL */
    ap_tracker *tracker;          /* may be NULL; advanced as bytes arrive */
    unsigned max_connections;     /* 0: 8 */
    unsigned max_per_host;        /* 0: max_connections */
    unsigned connections_per_file;/* 0: 8 */
    uint64_t chunk_size;          /* 0: 8 MiB */
    unsigned max_attempts;        /* 0: 5, per range */
    unsigned stall_timeout_ms;    /* 0: 30000 */
    unsigned backoff_base_ms;     /* 0: 250 */
    uint64_t max_bytes_per_sec;   /* 0: unlimited */
    int drop_partial;             /* remove staging data on failure/cancel */
    uint64_t min_free_bytes;      /* extra headroom for the free-space check */
    const char *ca_file;          /* PEM CA bundle instead of the system's */
    uint64_t min_rate;            /* bytes/s; slower over the window: stall
                                     (0: 1024) */
    unsigned min_rate_window_ms;  /* 0: 60000 */
    uint64_t max_unknown_size;    /* cap on a body of unknown length (0: the
                                     free space less a reserve) */
    unsigned adaptive_max;        /* more connections than max_connections,
                                     up to this many, while the total rate
                                     grows (lib/adaptive.h); 0: none.  Per
                                     file and per host, as many more */
    void *share;                  /* a CURLSH sharing the connection cache:
                                     connections outlive the call (a job's
                                     batches, lib/session.h); NULL: the
                                     call's own */
} apx_fetch_opts;

/*
 * Fetch n files concurrently.  Returns AP_OK when every file was fetched
 * and verified (size, sha256 and git sha1 when given), else the first
 * failing status (AP_ECANCELLED wins); each file's own status and message
 * are in files[i].  `err` receives the summary message.
 * Staging files of failed files are kept for resume (unless drop_partial);
 * a digest mismatch always deletes them.
 */
APX_HIDDEN int apx_fetch(const apx_fetch_opts *opts, apx_fetch_file *files,
                         size_t n, apx_error *err);

#endif
