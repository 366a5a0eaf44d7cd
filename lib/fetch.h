/* libartifactprov — the download engine's internals: the state of one
 * apx_fetch call (files, their ranges, transfers, helper threads), shared
 * by engine.c (the loop), xfer.c, file_prepare.c, file_end.c, space.c,
 * outcome.c, ranges.c, resume.c, hasher.c and ratelimit.c.
 * Not for use outside the engine (callers use lib/engine.h).
 * SPDX-License-Identifier: MIT */
#ifndef AP_FETCH_H
#define AP_FETCH_H

#include "engine.h"
#include "adaptive.h"
#include "digest.h"
#include "http_request.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define UNK UINT64_MAX
#define MIB (1024u * 1024u)
#define HASH_BUF (1u * MIB)
#define SYNC_INTERVAL_MS 100
#define MAX_RETRY_AFTER_MS (300u * 1000u)
#define DISCARD_MAX (64u * 1024u)
#define MAX_RESETS 3
#define SIDECAR_MAX (4u * MIB)      /* a larger sidecar is not ours */
#define UNKNOWN_RESERVE (64u * MIB) /* free space left by an unknown length */

enum { RANGE_IDLE, RANGE_ACTIVE, RANGE_DONE };
enum { M_PROBE, M_RANGED, M_STREAM };
enum {
    R_NONE, R_ENOSPC, R_EIO, R_USER, R_BADRANGE, R_RESET, R_SIZE,
    R_JOBEND, R_KILLED, R_DISCARD, R_TOOBIG, R_HEADERS
};

struct xfer;

typedef struct range {
    uint64_t start, end;   /* [start, end); end == UNK: open stream */
    uint64_t got;          /* bytes written contiguously from start */
    unsigned attempts;     /* failed attempts */
    uint64_t not_before;   /* backoff deadline (ms) */
    int state;
    int fresh;             /* next attempt on a fresh connection */
    struct xfer *x;
} range;

struct fetch;

typedef struct ffile {
    apx_fetch_file *f;
    struct fetch *F;
    size_t idx;
    int fd;
    int mode;
    int done;              /* finished, success or not */
    int opened;            /* file_prepare opened the staging file */
    uint64_t expect;       /* f->size */
    uint64_t total;        /* confirmed by the server, or UNK */
    range *ranges;
    size_t nranges, capranges;
    size_t prefix_range;     /* first range not fully contiguous */
    char *url;             /* current URL (after redirects) */
    char *host;            /* host:port of url, for per-host limits */
    char *orig_origin;     /* scheme://host:port of the caller's URL */
    char *dir;             /* directory of the staging file */
    char *shown;           /* redacted URL, the name when there is no label */
    uint64_t chunk;        /* size of the ranges cut from the gaps */
    uint64_t cap_unknown;  /* most bytes of a body of unknown length */
    int cap_is_default;
    char *etag;            /* strong ETag of the content being assembled */
    char *validator;       /* effective validator for the sidecar */
    char *state_path;
    int ranges_broken;
    unsigned active;
    unsigned redirects;
    unsigned resets;
    uint64_t have;         /* bytes present (resumed + fetched) */
    uint64_t resumed;
    uint64_t tr_have;      /* of `have`, what the tracker counts as done */
    uint64_t tr_total;     /* size learnt from the server and added to the
                              tracker's total (a file of unknown size) */
    uint64_t last_sync_ms;
    uint64_t gen_progress, gen_posted;
    /* shared with the hasher (under F->hmu) */
    uint64_t h_avail;      /* contiguous written prefix */
    uint64_t h_total;      /* total when complete, else UNK */
    uint64_t h_sha1_total; /* size for the git blob header, or UNK */
    uint64_t h_hashed;
    unsigned h_gen, h_seen_gen;
    int h_dead;
    int h_sha1_ok;
    int h_err;
    apx_digest *sha256, *sha1;
    /* shared with the syncer (index into syncer files) */
    size_t sync_idx;
} ffile;

typedef struct xfer {
    CURL *easy;
    ffile *ff;
    size_t ji;
    uint64_t req_start, req_end;
    int sent_range;
    int validated;
    int discard;
    int redirect;
    int killed;
    int stalled;
    int reason;
    long status;
    uint64_t discarded;
    int have_cr;
    uint64_t cr_start, cr_end, cr_total;
    uint64_t clen;
    uint64_t retry_after_ms;
    int ratelimited;  /* X-RateLimit-Remaining: 0 (GitHub's 403 limit) */
    char etag[300];
    char why[512];
    char errbuf[CURL_ERROR_SIZE];
    uint64_t last_data_ms;
    uint64_t win_start_ms; /* minimum rate: current window */
    uint64_t win_bytes;
    int slow;              /* stalled: below min_rate over a window */
    uint64_t hdr_bytes;    /* response header bytes seen */
    int paused;            /* held back by the bandwidth cap */
    struct curl_slist *hdrs;
    struct xfer *next;
} xfer;

/* Syncer: fdatasync then write sidecar; may outlive apx_fetch (detached). */
typedef struct sync_file {
    int fd;
    char *state_path;
    char *pending;
    int closed;
} sync_file;

typedef struct syncer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    int started, stop, busy, refs;
    size_t n, rr;
    sync_file *files;
} syncer;

typedef struct fetch {
    apx_fetch_opts o;
    CURLM *multi;
    ffile *files;
    size_t n;
    xfer *active;
    unsigned nactive;
    CURL *pool[16];
    unsigned npool;
    uint64_t rng;
    int fatal;
    apx_error fatal_err;
    const ffile *tr_file;
    int cancel_fd;
    /* bandwidth cap: a token bucket shared by every transfer */
    double tokens;
    uint64_t tokens_ms;
    uint64_t cap_pause_ms; /* last time the cap paused a transfer */
    /* hasher */
    pthread_mutex_t hmu;
    pthread_cond_t hcv;
    pthread_t hth;
    int h_started, h_stop, h_busy_file;
    int h_any_work;
    syncer *sy;
    /* adaptive connection count (lib/adaptive.c) */
    apx_adapt ad;
    uint64_t rx;           /* body bytes written, every file */
} fetch;

/* The file's name in messages and events: its label, else its URL made
 * safe (no credentials, no query). */
static inline const char *flabel(const ffile *ff)
{
    if (ff->f->label)
        return ff->f->label;
    return ff->shown ? ff->shown : "(file)";
}

/* lib/xfer.c: transfers */
APX_HIDDEN void tracker_sync(fetch *F, ffile *ff);
APX_HIDDEN void xfer_why(xfer *x, int reason, const char *fmt, ...)
    AP_PRINTF(3, 4);
APX_HIDDEN void kill_file_xfers(ffile *ff, const xfer *keep);
APX_HIDDEN int validate(xfer *x);
APX_HIDDEN int start_xfer(fetch *F, ffile *ff, size_t ji);
APX_HIDDEN void xfer_release(fetch *F, xfer *x);

/* lib/file_end.c: how a file ends */
APX_HIDDEN void remove_staging(ffile *ff);
APX_HIDDEN void remove_unresumable(ffile *ff);
APX_HIDDEN int file_resumable(const ffile *ff);
APX_HIDDEN void file_end_failed(fetch *F, ffile *ff, int status, int sync_now,
                                const char *fmt, ...) AP_PRINTF(5, 6);
APX_HIDDEN void file_end_ok(fetch *F, ffile *ff);
APX_HIDDEN void fatal(fetch *F, int status, const char *fmt, ...)
    AP_PRINTF(3, 4);
APX_HIDDEN void attempt_failed(fetch *F, ffile *ff, size_t ji, int cls,
                               long http, uint64_t retry_after, int fresh,
                               const char *cause);
APX_HIDDEN void reset_file(fetch *F, ffile *ff, int no_ranges);
APX_HIDDEN void emit_log(fetch *F, ffile *ff, const char *msg);

/* lib/file_prepare.c: a file's start */
APX_HIDDEN int file_prepare(fetch *F, ffile *ff, apx_error *err);

/* lib/space.c: free-space checks */
APX_HIDDEN char *dir_of(const char *path);
APX_HIDDEN int check_announced(const ffile *ff, uint64_t total,
                               const char *what, char *why, size_t n);
APX_HIDDEN int check_space(fetch *F, apx_error *err);
APX_HIDDEN void unknown_cap(const fetch *F, ffile *ff);

/* lib/ranges.c */
APX_HIDDEN int range_add(ffile *ff, uint64_t s, uint64_t e, uint64_t got, int st);
APX_HIDDEN uint64_t chunk_for(const fetch *F, uint64_t remaining);
APX_HIDDEN int split_range(ffile *ff, size_t k);
APX_HIDDEN void compact_done(ffile *ff);
APX_HIDDEN int fill_gaps(ffile *ff, uint64_t total);
APX_HIDDEN int range_probe(ffile *ff);

/* lib/resume.c */
APX_HIDDEN int pwrite_all(int fd, const char *p, size_t n, uint64_t off);
APX_HIDDEN int open_regular(const char *path, int flags, mode_t mode);
APX_HIDDEN char *sidecar_text(const ffile *ff);
APX_HIDDEN int sidecar_write(const char *path, const char *text);
APX_HIDDEN int sidecar_load(ffile *ff, uint64_t *size, json_t **done_out);
APX_HIDDEN syncer *syncer_new(fetch *F);
APX_HIDDEN void syncer_start(syncer *sy);
APX_HIDDEN void syncer_post(syncer *sy, ffile *ff, char *text);
APX_HIDDEN void syncer_close(syncer *sy, ffile *ff);
APX_HIDDEN void syncer_finish(syncer *sy);

/* lib/hasher.c */
APX_HIDDEN ssize_t pread_full(int fd, unsigned char *p, size_t n, uint64_t off);
APX_HIDDEN void *hasher_main(void *arg);
APX_HIDDEN void hasher_forget(fetch *F, ffile *ff);
APX_HIDDEN void hasher_reset(fetch *F, ffile *ff);
APX_HIDDEN void hasher_publish(fetch *F);

/* lib/ratelimit.c */
APX_HIDDEN void refill_tokens(fetch *F, uint64_t now);
APX_HIDDEN void pace(fetch *F, uint64_t now);
APX_HIDDEN void pace_timeout(fetch *F, uint64_t *timeout);

#endif
