/* libartifactprov — what a finished transfer of the engine means: the
 * facts of one attempt (curl's result, the HTTP status, what validation
 * and the callbacks found, the range and the file) classified into one
 * outcome that lib/engine.c applies in one place.  Pure: no server, no
 * file (t/unit/test_outcome).
 * SPDX-License-Identifier: MIT */
#ifndef AP_OUTCOME_H
#define AP_OUTCOME_H

#include "fetch.h"

/* The facts of one finished attempt, gathered before its xfer is freed. */
typedef struct apx_xfer_facts {
    int dropped;             /* killed, or its file already finished */
    CURLcode rc;             /* libcurl's result */
    int reason;              /* R_* set by the callbacks or validation */
    const char *why;         /* their cause, else curl's message */
    long status;             /* HTTP status (0: no response validated) */
    int validated;           /* the response was validated */
    int redirect;            /* a 3xx */
    const char *location;    /* its Location (NULL or "": none) */
    const char *first_url;   /* the caller's URL (redirect-loop message) */
    int ratelimited;         /* X-RateLimit-Remaining: 0 */
    uint64_t retry_after_ms;
    uint64_t cr_total;       /* Content-Range total of the response, or UNK */
    int stalled, slow;       /* stopped by the stall / minimum-rate checks */
    uint64_t slow_bytes;     /* bytes of the window found too slow */
    uint64_t min_rate;       /* apx_fetch_opts figures, for the messages */
    unsigned min_rate_window_ms, stall_timeout_ms;
    uint64_t start, got, end; /* the range: [start, end), got from start */
    int mode;                /* M_* of the file */
    uint64_t total, expect;  /* of the file (UNK: unknown) */
    int ranges_broken;
    unsigned resets, redirects; /* of the file so far */
} apx_xfer_facts;

typedef enum apx_outcome_kind {
    OUT_DROP,         /* nothing to do beyond freeing the transfer */
    OUT_FAIL,         /* the file fails: status, sync, message */
    OUT_NOSPACE,      /* the file fails and the whole call stops */
    OUT_ABORT,        /* the call stops: the progress sink said so */
    OUT_RETRY,        /* another attempt of the range, after a backoff */
    OUT_NO_RANGES,    /* restart the file as one stream without ranges */
    OUT_RESTART,      /* restart the file from byte 0 (one more reset) */
    OUT_REDIRECT,     /* go on at the Location (one more redirect) */
    OUT_RANGE_DONE,   /* the range is complete */
    OUT_BODY_END,     /* a body of unknown length ended cleanly here */
    OUT_NOTHING_LEFT  /* 416 at the range's position: the entity ends there */
} apx_outcome_kind;

/* Whose name opens the message: the file's label, its current URL, the
 * caller's URL, or nothing. */
enum { BY_LABEL, BY_URL, BY_FIRST_URL, BY_NONE };

typedef struct apx_outcome {
    apx_outcome_kind kind;
    int status;              /* OUT_FAIL/NOSPACE/ABORT: the ap_status;
                                OUT_RETRY: the class of the failure */
    int sync;                /* OUT_FAIL: write the sidecar first */
    int by;                  /* BY_*: "<name>: <msg>" */
    long http;               /* OUT_RETRY: status for the final mapping */
    uint64_t retry_after_ms; /* OUT_RETRY */
    int fresh;               /* OUT_RETRY: on a new connection */
    int clear_redirects;     /* the response was not a redirect chain's */
    char msg[800];
} apx_outcome;

/* Classify the facts of one finished attempt. */
APX_HIDDEN void apx_outcome_classify(const apx_xfer_facts *in,
                                     apx_outcome *out);

#endif
