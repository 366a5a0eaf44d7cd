/* libartifactprov — download engine (libcurl multi).
 * SPDX-License-Identifier: MIT
 *
 * One event loop drives every transfer of an apx_fetch() call through one
 * CURLM handle (connections are reused per host, HTTP/2 multiplexed when
 * offered).  Each file is cut into byte ranges; a first ranged
 * request (the probe) learns whether the server honours ranges and the
 * total size, then up to connections_per_file ranges run in parallel and are
 * written at their offsets with pwrite.  Two helper threads per call keep
 * the loop free of slow work:
 *   - the hasher reads back the contiguous prefix of each file (page cache)
 *     and feeds SHA-256 / git SHA-1, so hashing overlaps the transfer and
 *     runs on another core;
 *   - the syncer fdatasync()s the staging file and then writes the sidecar
 *     snapshot taken before the sync, so the sidecar never claims bytes
 *     that are not on disk.
 * See docs/engine.md for the sidecar format and the retry rules. */
#include "fetch.h"
#include "adaptive.h"
#include "digest.h"
#include "fault.h"
#include "http_parse.h"
#include "http_request.h"
#include "outcome.h"
#include "retry.h"
#include "progress.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>


/* ------------------------------------------------------------------------
 * Transfers */

static const char *flabel(const ffile *ff);

static uint64_t file_total_known(const ffile *ff)
{
    return ff->total != UNK ? ff->total : ff->expect != UNK ? ff->expect : 0;
}

/* Bring the tracker's figures for ff in line with the engine's: the size
 * of a file the caller had none for, learnt from the server (Content-Length,
 * Content-Range, or the end of a body of unknown length), and the bytes
 * present but not received now -- resumed from an earlier attempt (done,
 * never in the rate) -- or received and then discarded by a restart. */
static void tracker_sync_but(fetch *F, ffile *ff, uint64_t arriving)
{
    ap_tracker *tr = F->o.tracker;
    uint64_t have = ff->have - arriving; /* `arriving` is ap_tracker_advance's */
    if (!tr)
        return;
    if (ff->f->size == AP_SIZE_UNKNOWN) {
        uint64_t tot = file_total_known(ff);
        if (tot != ff->tr_total) {
            apx_tracker_adjust(tr, 0, (int64_t)tot - (int64_t)ff->tr_total);
            ff->tr_total = tot;
        }
    }
    if (have != ff->tr_have) {
        apx_tracker_adjust(tr, (int64_t)have - (int64_t)ff->tr_have, 0);
        ff->tr_have = have;
    }
    if (F->tr_file == ff)
        ap_tracker_set_file(tr, flabel(ff), have, file_total_known(ff));
}

static void tracker_sync(fetch *F, ffile *ff)
{
    tracker_sync_but(F, ff, 0);
}

static void tracker_advance(fetch *F, ffile *ff, uint64_t n, int *abort_)
{
    ap_tracker *tr = F->o.tracker;
    if (!tr)
        return;
    tracker_sync_but(F, ff, n);
    if (F->tr_file != ff) {
        ap_tracker_set_file(tr, flabel(ff), ff->have - n, file_total_known(ff));
        apx_tracker_file_sha256(tr, ff->f->sha256);
        apx_tracker_phase(tr, "downloading", flabel(ff));
        F->tr_file = ff;
    }
    ff->tr_have += n;
    if (ap_tracker_advance(tr, n) != 0)
        *abort_ = 1;
}

static void xfer_why(xfer *x, int reason, const char *fmt, ...)
    AP_PRINTF(3, 4);
static void xfer_why(xfer *x, int reason, const char *fmt, ...)
{
    va_list ap;
    x->reason = reason;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
}

static void kill_file_xfers(ffile *ff, const xfer *keep)
{
    xfer *y;
    for (y = ff->F->active; y; y = y->next)
        if (y->ff == ff && y != keep && !y->killed) {
            y->killed = 1;
            if (!y->reason)
                y->reason = R_KILLED;
        }
}

static int preallocate(ffile *ff, uint64_t total)
{
    int e;
    if (total == 0 || total == UNK)
        return 0;
    e = posix_fallocate(ff->fd, 0, (off_t)total);
    if (e == ENOSPC || e == EFBIG)
        return e;
    return 0; /* EOPNOTSUPP & co: the filesystem cannot, writes will */
}

/* Throw away everything and restart from byte zero as one stream driven by
 * `x` (which got a 200 to a range request).  Returns 0 or an errno. */
static int become_stream(ffile *ff, xfer *x, uint64_t len)
{
    int e;
    unsigned attempts = ff->ranges[x->ji].attempts; /* a restart is no reprieve */
    kill_file_xfers(ff, x);
    hasher_reset(ff->F, ff);
    ff->nranges = 0;
    range_add(ff, 0, len, 0, RANGE_ACTIVE); /* capranges >= 1 already */
    ff->ranges[0].x = x;
    ff->ranges[0].attempts = attempts;
    x->ji = 0;
    ff->mode = M_STREAM;
    ff->total = len;
    ff->prefix_range = 0;
    ff->have = 0;
    ff->gen_progress++;
    if (ftruncate(ff->fd, 0) != 0)
        return errno;
    e = preallocate(ff, len);
    return e;
}

/* Does a size announced by the server fit in the staging file system?
 * Checked before anything is allocated for it.  0, or ENOSPC with the
 * cause in x. */
static int check_announced(xfer *x, uint64_t total, const char *what)
{
    ffile *ff = x->ff;
    struct statvfs vf;
    struct stat st;
    uint64_t avail, alloc = 0, need;
    if (total == UNK || total == 0 || statvfs(ff->dir, &vf) != 0)
        return 0;
    if (ff->fd >= 0 && fstat(ff->fd, &st) == 0)
        alloc = (uint64_t)st.st_blocks * 512u;
    need = total > alloc ? total - alloc : 0;
    avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
    if (need > avail || avail - need < ff->F->o.min_free_bytes) {
        xfer_why(x, R_ENOSPC,
                 "the server announces %llu bytes (%s), more than the %llu "
                 "bytes of free space in %s (+%llu reserved)",
                 (unsigned long long)total, what,
                 (unsigned long long)avail, ff->dir,
                 (unsigned long long)ff->F->o.min_free_bytes);
        return ENOSPC;
    }
    return 0;
}

/* Validate the response of x before its first body byte is accepted. */
static int validate(xfer *x)
{
    ffile *ff = x->ff;
    long code = 0;
    x->validated = 1;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    x->status = code;
    if (code >= 300 && code < 400) {
        x->redirect = 1;
        x->discard = 1;
        return 0;
    }
    if (code != 200 && code != 206) {
        x->discard = 1;
        return 0;
    }
    if (code == 206) {
        if (!x->sent_range || !x->have_cr || x->cr_start == UNK) {
            xfer_why(x, R_BADRANGE, "206 without a usable Content-Range");
            return -1;
        }
        if (x->cr_start != x->req_start ||
            (x->req_end != UNK && x->cr_end >= x->req_end)) {
            xfer_why(x, R_BADRANGE,
                     "bad Content-Range bytes %llu-%llu for requested "
                     "range %llu-%s",
                     (unsigned long long)x->cr_start,
                     (unsigned long long)x->cr_end,
                     (unsigned long long)x->req_start,
                     x->req_end == UNK ? "" : "..");
            return -1;
        }
        if (x->cr_total == UNK) {
            xfer_why(x, R_BADRANGE, "Content-Range without a total size");
            return -1;
        }
        if (ff->expect != UNK && x->cr_total != ff->expect) {
            xfer_why(x, R_SIZE, "server reports size %llu, expected %llu",
                     (unsigned long long)x->cr_total,
                     (unsigned long long)ff->expect);
            return -1;
        }
        if ((ff->total != UNK && x->cr_total != ff->total) ||
            (ff->etag && apx_is_strong_etag(x->etag) &&
             strcmp(ff->etag, x->etag) != 0)) {
            xfer_why(x, R_RESET, "the resource changed (size %llu, ETag %s)",
                     (unsigned long long)x->cr_total,
                     x->etag[0] ? x->etag : "none");
            return -1;
        }
        if (!ff->etag && apx_is_strong_etag(x->etag))
            ff->etag = apx_strdup(x->etag);
        if (ff->mode == M_PROBE) {
            range *j = &ff->ranges[x->ji];
            int e;
            if (ff->total == UNK &&
                check_announced(x, x->cr_total, "Content-Range") != 0)
                return -1;
            ff->total = x->cr_total;
            if (j->end == UNK || j->end > ff->total)
                j->end = ff->total;
            /* the probe asked for a whole chunk before the size was known;
             * cut to the chunk the size gives (a smaller file: smaller
             * ranges), so that it is not the tail the others wait for --
             * its body stops there (R_JOBEND), the rest is a gap */
            if (j->end - j->start > chunk_for(ff->F, ff->total - j->start))
                j->end = j->start + chunk_for(ff->F, ff->total - j->start);
            if (x->req_end == UNK || x->req_end > j->end)
                x->req_end = j->end;
            if (fill_gaps(ff, ff->total)) {
                xfer_why(x, R_EIO, "out of memory");
                return -1;
            }
            ff->mode = M_RANGED;
            if ((e = preallocate(ff, ff->total)) != 0) {
                xfer_why(x, R_ENOSPC, "cannot allocate %llu bytes: %s",
                         (unsigned long long)ff->total, strerror(e));
                return -1;
            }
        }
        return 0;
    }
    /* 200: the whole entity from byte 0 */
    if (ff->expect != UNK && x->clen != UNK && x->clen != ff->expect) {
        xfer_why(x, R_SIZE, "server sends %llu bytes, expected %llu",
                 (unsigned long long)x->clen,
                 (unsigned long long)ff->expect);
        return -1;
    }
    {
        uint64_t len = x->clen != UNK ? x->clen : ff->expect;
        int e;
        if (x->clen != UNK && ff->expect == UNK &&
            check_announced(x, x->clen, "Content-Length") != 0)
            return -1;
        ff->etag = (free(ff->etag), NULL);
        if (apx_is_strong_etag(x->etag))
            ff->etag = apx_strdup(x->etag);
        if ((e = become_stream(ff, x, len)) != 0) {
            xfer_why(x, e == ENOSPC || e == EFBIG ? R_ENOSPC : R_EIO,
                     "cannot prepare staging file: %s", strerror(e));
            return -1;
        }
        x->req_start = 0;
        x->req_end = len;
    }
    return 0;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    char v[300];
    x->last_data_ms = apx_now_ms();
    x->win_bytes += n;
    x->hdr_bytes += n;
    if (x->hdr_bytes > HDR_MAX) {
        xfer_why(x, R_HEADERS, "response headers exceed %u bytes",
                 HDR_MAX);
        return 0;
    }
    if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->have_cr = 0;
        x->clen = UNK;
        x->etag[0] = '\0';
        x->retry_after_ms = 0;
        x->ratelimited = 0;
        return n;
    }
    if (apx_hdr_value(p, n, "Content-Range", v, sizeof v)) {
        x->have_cr = apx_parse_content_range(v, &x->cr_start, &x->cr_end,
                                         &x->cr_total) == 0;
    } else if (apx_hdr_value(p, n, "Content-Length", v, sizeof v)) {
        uint64_t l;
        const char *end;
        if (apx_parse_u64(v, &end, &l) == 0 && *end == '\0')
            x->clen = l;
    } else if (apx_hdr_value(p, n, "ETag", v, sizeof v)) {
        snprintf(x->etag, sizeof x->etag, "%s", v);
    } else if (apx_hdr_value(p, n, "Retry-After", v, sizeof v)) {
        x->retry_after_ms = apx_parse_retry_after(v);
    } else if (apx_hdr_value(p, n, "X-RateLimit-Remaining", v, sizeof v)) {
        x->ratelimited = strcmp(v, "0") == 0;
    } else if (apx_hdr_value(p, n, "X-RateLimit-Reset", v, sizeof v) && !x->retry_after_ms) {
        /* epoch seconds; Retry-After wins when both are sent */
        uint64_t t;
        const char *end;
        int64_t now = apx_wall_s();
        if (apx_parse_u64(v, &end, &t) == 0 && *end == '\0' && (int64_t)t > now)
            x->retry_after_ms = (uint64_t)((int64_t)t - now) * 1000;
    }
    return n;
}

static size_t on_write(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    ffile *ff = x->ff;
    fetch *F = ff->F;
    size_t n = sz * nm, take;
    range *j;
    uint64_t pos;
    int abort_ = 0;
    if (x->killed)
        return 0;
    x->last_data_ms = apx_now_ms();
    if (F->o.max_bytes_per_sec) {
        refill_tokens(F, x->last_data_ms);
        if (F->tokens <= 0.0) {
            x->paused = 1; /* libcurl keeps the data and delivers it again */
            F->cap_pause_ms = x->last_data_ms;
            return CURL_WRITEFUNC_PAUSE;
        }
        F->tokens -= (double)n; /* may go negative: repaid before the next */
    }
    if (!x->validated && validate(x) != 0)
        return 0;
    if (x->discard) {
        x->discarded += n;
        if (x->discarded > DISCARD_MAX) {
            x->reason = R_DISCARD;
            return 0;
        }
        return n;
    }
    x->win_bytes += n;
    j = &ff->ranges[x->ji];
    pos = j->start + j->got;
    take = n;
    if (j->end != UNK && pos + take > j->end)
        take = (size_t)(j->end - pos);
    if (j->end == UNK && pos + take > ff->cap_unknown) {
        if (ff->cap_is_default)
            xfer_why(x, R_TOOBIG,
                     "body of unknown length exceeds %llu bytes (the free "
                     "space of %s less a reserve)",
                     (unsigned long long)ff->cap_unknown, ff->dir);
        else
            xfer_why(x, R_TOOBIG,
                     "body of unknown length exceeds %llu bytes "
                     "(max_unknown_size)",
                     (unsigned long long)ff->cap_unknown);
        return 0;
    }
    if (take) {
        if (pwrite_all(ff->fd, p, take, pos) != 0) {
            int e = errno;
            xfer_why(x, e == ENOSPC || e == EDQUOT ? R_ENOSPC : R_EIO,
                     "write to %s: %s", ff->f->staging_path, strerror(e));
            return 0;
        }
        j->got += take;
        ff->have += take;
        ff->f->bytes_fetched += take;
        F->rx += take;
        APX_FAULT("mid-chunk");
        ff->gen_progress++;
        tracker_advance(F, ff, take, &abort_);
        if (abort_) {
            x->reason = R_USER;
            return 0;
        }
    }
    if (take < n) {
        x->reason = R_JOBEND; /* the range is complete; stop this body */
        return 0;
    }
    return n;
}

static CURL *easy_get(fetch *F)
{
    if (F->npool)
        return F->pool[--F->npool];
    return curl_easy_init();
}

static void easy_put(fetch *F, CURL *e)
{
    if (!e)
        return;
    if (F->npool < sizeof F->pool / sizeof F->pool[0]) {
        curl_easy_reset(e);
        F->pool[F->npool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}


static int start_xfer(fetch *F, ffile *ff, size_t ji)
{
    range *j = &ff->ranges[ji];
    xfer *x = apx_calloc(1, sizeof *x);
    int oom = 0;
    char range_hdr[80];
    if (!x)
        return AP_ENOMEM;
    x->easy = easy_get(F);
    if (!x->easy) {
        free(x);
        return AP_ENOMEM;
    }
    if (ff->mode == M_STREAM && ff->ranges_broken && j->got) {
        /* no trustworthy ranges: a stream can only restart from zero */
        hasher_reset(F, ff);
        ff->have -= j->got;
        j->got = 0;
        ff->prefix_range = 0;
    }
    x->ff = ff;
    x->ji = ji;
    x->req_start = j->start + j->got;
    x->req_end = j->end;
    x->clen = UNK;
    x->last_data_ms = apx_now_ms();
    x->win_start_ms = x->last_data_ms;
    range_hdr[0] = '\0';
    if (!ff->ranges_broken && !(x->req_start == 0 && ff->mode == M_STREAM)) {
        if (x->req_end == UNK)
            snprintf(range_hdr, sizeof range_hdr, "Range: bytes=%llu-",
                     (unsigned long long)x->req_start);
        else
            snprintf(range_hdr, sizeof range_hdr, "Range: bytes=%llu-%llu",
                     (unsigned long long)x->req_start,
                     (unsigned long long)(x->req_end - 1));
        x->sent_range = 1;
    }
    x->hdrs = apx_req_headers(ff->url, ff->orig_origin, ff->f->headers,
                              ff->f->bearer, ff->f->bearer_host, NULL, &oom);
    if (x->sent_range) {
        x->hdrs = apx_req_add_header(x->hdrs, range_hdr, &oom);
        if (ff->etag) {
            char *ir = apx_asprintf("If-Range: %s", ff->etag);
            if (ir) {
                x->hdrs = apx_req_add_header(x->hdrs, ir, &oom);
                free(ir);
            } else {
                oom = 1;
            }
        }
    }
    if (oom) {
        apx_req_free_headers(x->hdrs);
        easy_put(F, x->easy);
        free(x);
        return AP_ENOMEM;
    }
    apx_req_common_opts(x->easy, x->errbuf, F->o.ca_file);
    curl_easy_setopt(x->easy, CURLOPT_URL, ff->url);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, 256L * 1024L);
    if (j->fresh)
        curl_easy_setopt(x->easy, CURLOPT_FRESH_CONNECT, 1L);
    if (F->o.share)
        curl_easy_setopt(x->easy, CURLOPT_SHARE, (CURLSH *)F->o.share);
    if (curl_multi_add_handle(F->multi, x->easy) != CURLM_OK) {
        apx_req_free_headers(x->hdrs);
        easy_put(F, x->easy);
        free(x);
        return AP_ERROR;
    }
    j->state = RANGE_ACTIVE;
    j->x = x;
    x->next = F->active;
    F->active = x;
    F->nactive++;
    ff->active++;
    return AP_OK;
}

/* Detach x from the multi and the lists; frees it. */
static void xfer_release(fetch *F, xfer *x)
{
    xfer **pp;
    curl_multi_remove_handle(F->multi, x->easy);
    for (pp = &F->active; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    F->nactive--;
    x->ff->active--;
    if (!x->killed && x->ji < x->ff->nranges && x->ff->ranges[x->ji].x == x) {
        range *j = &x->ff->ranges[x->ji];
        j->x = NULL;
        if (j->state == RANGE_ACTIVE)
            j->state = RANGE_IDLE;
    }
    apx_req_free_headers(x->hdrs);
    easy_put(F, x->easy);
    free(x);
}

/* ------------------------------------------------------------------------
 * File outcomes */

/* The file's name in messages and events: its label, else its URL made
 * safe (no credentials, no query). */
static const char *flabel(const ffile *ff)
{
    if (ff->f->label)
        return ff->f->label;
    return ff->shown ? ff->shown : "(file)";
}

static void remove_staging(ffile *ff)
{
    unlink(ff->f->staging_path);
    unlink(ff->state_path);
}

/* Staging data without a sidecar is never resumed (file_prepare starts
 * such a file over): it goes, so that a failure before the first byte, or
 * before the first sidecar, leaves nothing behind. */
static void remove_unresumable(ffile *ff)
{
    struct stat st;
    if (!ff->state_path || lstat(ff->state_path, &st) != 0)
        remove_staging(ff);
}

/* Can a later run continue this file?  Only with a known size, ranges the
 * server honoured, and something that proves the bytes are of the same
 * content (a validator or a strong ETag).  Anything else is freed at once:
 * an endless body must not leave gigabytes behind for gc to find a day
 * later. */
static int file_resumable(const ffile *ff)
{
    return ff->total != UNK && ff->mode != M_STREAM && !ff->ranges_broken &&
           (ff->validator || ff->etag);
}

/* Finish a file that did not succeed. keep: leave staging for resume. */
static void file_end_failed(fetch *F, ffile *ff, int status, int sync_now,
                            const char *fmt, ...) AP_PRINTF(5, 6);
static void file_end_failed(fetch *F, ffile *ff, int status, int sync_now,
                            const char *fmt, ...)
{
    va_list ap;
    int keep = !F->o.drop_partial && status != AP_EDIGEST &&
               file_resumable(ff);
    if (ff->done)
        return;
    ff->done = 1;
    va_start(ap, fmt);
    apx_error_vset(&ff->f->err, status, fmt, ap);
    va_end(ap);
    ff->f->status = status;
    kill_file_xfers(ff, NULL);
    hasher_forget(F, ff);
    if (F->sy)
        syncer_close(F->sy, ff);
    if (ff->fd >= 0) {
        if (keep && sync_now && ff->total != UNK && ff->gen_progress &&
            ff->gen_posted != ff->gen_progress) {
            char *t = sidecar_text(ff);
            if (t && fdatasync(ff->fd) == 0)
                (void)write_file_atomic(ff->state_path, t);
            free(t);
        }
        close(ff->fd);
        ff->fd = -1;
    }
    if (!keep)
        remove_staging(ff);
    else
        remove_unresumable(ff);
}

static void file_end_ok(fetch *F, ffile *ff)
{
    apx_fetch_file *f = ff->f;
    char hex[65], sha1hex[41];
    uint64_t total = ff->total;
    int sha1_ok;
    hasher_forget(F, ff);
    APX_FAULT("verify");
    apx_digest_final_hex(ff->sha256, hex);
    sha1_ok = ff->h_sha1_ok;
    memcpy(f->sha256_out, hex, sizeof hex);
    f->size_out = total;
    if (ff->expect != UNK && total != ff->expect) {
        file_end_failed(F, ff, AP_ESIZE, 0,
                        "%s: size mismatch (want %llu, got %llu)", flabel(ff),
                        (unsigned long long)ff->expect,
                        (unsigned long long)total);
        remove_staging(ff);
        return;
    }
    if (f->sha256 && strcasecmp(f->sha256, hex) != 0) {
        file_end_failed(F, ff, AP_EDIGEST, 0,
                        "%s: sha256 mismatch (want %s, got %s)", flabel(ff),
                        f->sha256, hex);
        return;
    }
    if (f->git_sha1) {
        if (!sha1_ok) { /* size was unknown when hashing began: re-read */
            unsigned char *buf = apx_malloc(HASH_BUF);
            char hdr[40];
            int hl = snprintf(hdr, sizeof hdr, "blob %llu",
                              (unsigned long long)total);
            uint64_t off = 0;
            apx_digest_reset(ff->sha1);
            apx_digest_update(ff->sha1, hdr, (size_t)hl + 1);
            while (buf && off < total) {
                size_t n = total - off > HASH_BUF ? HASH_BUF
                                                  : (size_t)(total - off);
                if (pread_full(ff->fd, buf, n, off) != (ssize_t)n)
                    break;
                apx_digest_update(ff->sha1, buf, n);
                off += n;
            }
            free(buf);
            if (off != total) {
                file_end_failed(F, ff, AP_EIO, 1, "%s: cannot re-read %s",
                                flabel(ff), f->staging_path);
                return;
            }
        }
        apx_digest_final_hex(ff->sha1, sha1hex);
        if (strcasecmp(f->git_sha1, sha1hex) != 0) {
            file_end_failed(F, ff, AP_EDIGEST, 0,
                            "%s: git sha1 mismatch (want %s, got %s)",
                            flabel(ff), f->git_sha1, sha1hex);
            return;
        }
    }
    ff->done = 1;
    f->status = AP_OK;
    apx_error_clear(&f->err);
    if (F->sy)
        syncer_close(F->sy, ff);
    unlink(ff->state_path);
    close(ff->fd);
    ff->fd = -1;
}

/* A fatal condition for the whole call (ENOSPC, user abort, cancel). */
static void fatal(fetch *F, int status, const char *fmt, ...) AP_PRINTF(3, 4);
static void fatal(fetch *F, int status, const char *fmt, ...)
{
    va_list ap;
    if (F->fatal)
        return;
    F->fatal = status;
    va_start(ap, fmt);
    apx_error_vset(&F->fatal_err, status, fmt, ap);
    va_end(ap);
}

static int map_final_status(long http, int cls)
{
    if (http == 429)
        return AP_ERATELIMIT;
    if (http >= 400)
        return AP_EHTTP;
    return cls;
}

/* One attempt of range ji failed. */
static void attempt_failed(fetch *F, ffile *ff, size_t ji, int cls,
                           long http, uint64_t retry_after, int fresh,
                           const char *cause)
{
    range *j = &ff->ranges[ji];
    char u[512], msg[APX_ERRMSG_MAX];
    uint64_t delay;
    unsigned max_attempts = ff->f->max_attempts ? ff->f->max_attempts
                                                : F->o.max_attempts;
    j->attempts++;
    j->fresh = fresh;
    if (j->attempts >= max_attempts) {
        int st = map_final_status(http, cls);
        file_end_failed(F, ff, st, 1, "%s: %s after %u attempt%s",
                        apx_url_msg(ff->url, u, sizeof u), cause, j->attempts,
                        j->attempts == 1 ? "" : "s");
        return;
    }
    if (retry_after > MAX_RETRY_AFTER_MS) {
        file_end_failed(F, ff, map_final_status(http, cls), 1,
                        "%s: %s, server asks to retry after %llu s",
                        apx_url_msg(ff->url, u, sizeof u), cause,
                        (unsigned long long)(retry_after / 1000));
        return;
    }
    delay = apx_backoff_ms(&F->rng, F->o.backoff_base_ms, j->attempts);
    if (retry_after > delay)
        delay = retry_after;
    j->not_before = apx_now_ms() + delay;
    j->state = RANGE_IDLE;
    if (F->o.tracker) {
        snprintf(msg, sizeof msg,
                 "%s: %s, retrying range %zu/%zu from byte %llu in %llu ms "
                 "(attempt %u/%u)",
                 flabel(ff), cause, ji + 1, ff->nranges,
                 (unsigned long long)(j->start + j->got),
                 (unsigned long long)delay, j->attempts + 1, max_attempts);
        if (ap_tracker_emit(F->o.tracker, AP_EVENT_RETRY, flabel(ff),
                            map_final_status(http, cls), msg) != 0)
            fatal(F, AP_EUSER, "%s: aborted by the event sink", flabel(ff));
    }
}

/* Restart the file from zero (content changed / bad ranges). */
static void reset_file(fetch *F, ffile *ff, int no_ranges)
{
    kill_file_xfers(ff, NULL);
    hasher_reset(F, ff);
    ff->nranges = 0;
    ff->prefix_range = 0;
    ff->have = 0;
    ff->total = UNK;
    ff->etag = (free(ff->etag), NULL);
    ff->gen_progress++;
    if (ff->fd >= 0 && ftruncate(ff->fd, 0) != 0) {
        /* ignore: the data is rewritten anyway */
    }
    unlink(ff->state_path);
    if (no_ranges) {
        ff->ranges_broken = 1;
        ff->mode = M_STREAM;
        range_add(ff, 0, ff->expect, 0, RANGE_IDLE);
    } else {
        ff->mode = M_PROBE;
        range_add(ff, 0,
                ff->expect != UNK && ff->expect < F->o.chunk_size
                    ? ff->expect
                    : F->o.chunk_size,
                0, RANGE_IDLE);
    }
}

static void emit_log(fetch *F, ffile *ff, const char *msg)
{
    if (F->o.tracker &&
        ap_tracker_emit(F->o.tracker, AP_EVENT_RETRY, flabel(ff), 0, msg))
        fatal(F, AP_EUSER, "%s: aborted by the event sink", flabel(ff));
}


/* The facts of x's finished attempt, validated first if its response was
 * never looked at.  *loc: the Location of a redirect (apx_malloc'd). */
static void xfer_facts(fetch *F, xfer *x, CURLcode rc, apx_xfer_facts *in,
                       char **loc)
{
    ffile *ff = x->ff;
    const range *j;
    memset(in, 0, sizeof *in);
    *loc = NULL;
    in->dropped = x->killed || ff->done;
    if (in->dropped)
        return;
    if (!x->validated && rc == CURLE_OK)
        (void)validate(x);
    if (x->redirect) {
        char *rl = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &rl);
        *loc = apx_strdup(rl);
    }
    j = &ff->ranges[x->ji];
    in->rc = rc;
    in->reason = x->reason;
    in->why = x->why[0] || rc == CURLE_OK ? x->why
              : x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
    in->status = x->status;
    in->validated = x->validated;
    in->redirect = x->redirect;
    in->location = *loc;
    in->first_url = ff->f->url;
    in->ratelimited = x->ratelimited;
    in->retry_after_ms = x->retry_after_ms;
    in->cr_total = x->have_cr ? x->cr_total : UNK;
    in->stalled = x->stalled;
    in->slow = x->slow;
    in->slow_bytes = x->win_bytes;
    in->min_rate = F->o.min_rate;
    in->min_rate_window_ms = F->o.min_rate_window_ms;
    in->stall_timeout_ms = F->o.stall_timeout_ms;
    in->start = j->start;
    in->got = j->got;
    in->end = j->end;
    in->mode = ff->mode;
    in->total = ff->total;
    in->expect = ff->expect;
    in->ranges_broken = ff->ranges_broken;
    in->resets = ff->resets;
    in->redirects = ff->redirects;
}

/* The name that opens the message of an outcome. */
static const char *outcome_name(const ffile *ff, int by, char *u, size_t n)
{
    if (by == BY_URL)
        return apx_url_msg(ff->url, u, n);
    if (by == BY_FIRST_URL)
        return apx_url_msg(ff->f->url, u, n);
    return flabel(ff);
}

/* The range ji reached its end (pos: its new end, UNK: as it is). */
static void range_finished(ffile *ff, size_t ji, uint64_t pos)
{
    range *j = &ff->ranges[ji];
    if (pos != UNK)
        j->end = pos;
    j->state = RANGE_DONE;
    ff->gen_progress++;
}

/* The one place where the outcome of range ji's attempt is applied to
 * its file (and, for no space or an abort, to the call).  Takes loc. */
static void outcome_apply(fetch *F, ffile *ff, size_t ji,
                          const apx_outcome *o, char *loc)
{
    char u[512], m[900];
    range *j;
    if (o->clear_redirects)
        ff->redirects = 0;
    switch (o->kind) {
    case OUT_DROP:
        break;
    case OUT_FAIL:
    case OUT_NOSPACE:
        file_end_failed(F, ff, o->status, o->sync, "%s: %s",
                        outcome_name(ff, o->by, u, sizeof u), o->msg);
        if (o->kind == OUT_NOSPACE)
            fatal(F, o->status, "%s: %s", flabel(ff), o->msg);
        break;
    case OUT_ABORT:
        fatal(F, o->status, "%s: %s", flabel(ff), o->msg);
        break;
    case OUT_RETRY:
        attempt_failed(F, ff, ji, o->status, o->http, o->retry_after_ms,
                       o->fresh, o->msg);
        break;
    case OUT_RESTART:
    case OUT_NO_RANGES:
        if (o->by == BY_NONE)
            snprintf(m, sizeof m, "%s", o->msg);
        else
            snprintf(m, sizeof m, "%s: %s", flabel(ff), o->msg);
        if (o->kind == OUT_RESTART)
            ff->resets++;
        reset_file(F, ff, o->kind == OUT_NO_RANGES);
        emit_log(F, ff, m);
        break;
    case OUT_REDIRECT:
        ff->redirects++;
        free(ff->url);
        ff->url = loc;
        loc = NULL;
        free(ff->host);
        ff->host = apx_url_host(ff->url, 1);
        j = &ff->ranges[ji];
        j->state = RANGE_IDLE;
        j->not_before = 0;
        break;
    case OUT_RANGE_DONE:
        range_finished(ff, ji, UNK);
        break;
    case OUT_BODY_END:
        j = &ff->ranges[ji];
        range_finished(ff, ji, j->start + j->got);
        ff->total = j->end;
        break;
    case OUT_NOTHING_LEFT:
        j = &ff->ranges[ji];
        range_finished(ff, ji, j->start + j->got);
        ff->total = j->end;
        ff->nranges = ji + 1;
        if (ff->mode == M_PROBE)
            ff->mode = M_RANGED;
        break;
    }
    free(loc);
}

/* A transfer ended (done, failed, stalled or killed): classify, free it,
 * apply. */
static void handle_done(fetch *F, xfer *x, CURLcode rc)
{
    ffile *ff = x->ff;
    apx_xfer_facts in;
    apx_outcome o;
    char *loc;
    size_t ji;
    xfer_facts(F, x, rc, &in, &loc);
    apx_outcome_classify(&in, &o);
    ji = x->ji;
    xfer_release(F, x); /* range -> idle */
    outcome_apply(F, ff, ji, &o, loc);
}

/* ------------------------------------------------------------------------
 * Setup */

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return apx_strdup(".");
    if (s == path)
        return apx_strdup("/");
    return apx_strndup(path, (size_t)(s - path));
}

static int file_prepare(fetch *F, ffile *ff, apx_error *err)
{
    apx_fetch_file *f = ff->f;
    uint64_t sz = UNK;
    json_t *done = NULL;
    char *dir;
    size_t i;
    ff->fd = -1;
    ff->expect = f->size;
    ff->total = UNK;
    ff->h_total = UNK;
    ff->h_sha1_total = UNK;
    if (!f->url || !f->staging_path)
        return apx_error_set(err, AP_EINVAL, "%s: url and staging path are "
                             "required", f->label ? f->label : "(file)");
    if (f->sha256 && (strlen(f->sha256) != 64 ||
                      strspn(f->sha256, "0123456789abcdefABCDEF") != 64))
        return apx_error_set(err, AP_EINVAL,
                             "%s: expected sha256 is not 64 hex digits",
                             flabel(ff));
    ff->url = apx_strdup(f->url);
    ff->host = apx_url_host(f->url, 1);
    ff->orig_origin = apx_url_origin(f->url);
    if (!f->label) {
        char u[512];
        ff->shown = apx_strdup(apx_url_msg(f->url, u, sizeof u));
    }
    ff->state_path = apx_asprintf("%s.state", f->staging_path);
    if (f->validator)
        ff->validator = apx_strdup(f->validator);
    else if (f->sha256)
        ff->validator = apx_asprintf("sha256:%s", f->sha256);
    ff->sha256 = apx_digest_new(APX_SHA256);
    if (f->git_sha1)
        ff->sha1 = apx_digest_new(APX_SHA1);
    if (!ff->url || !ff->state_path || !ff->sha256 ||
        (f->git_sha1 && !ff->sha1) ||
        (f->validator && !ff->validator))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (!ff->host || !ff->orig_origin) {
        char u[512];
        return apx_error_set(err, AP_EINVAL, "%s: bad URL '%s'",
                             f->label ? f->label : "(file)",
                             apx_url_msg(f->url, u, sizeof u));
    }
    dir = dir_of(f->staging_path);
    if (!dir || apx_mkdirs(dir) != AP_OK) {
        int e = errno;
        apx_error_set(err, AP_EIO, "%s: cannot create %s: %s", flabel(ff),
                      dir ? dir : "?", strerror(e));
        free(dir);
        return AP_EIO;
    }
    ff->dir = dir;
    if (F->o.max_unknown_size) {
        ff->cap_unknown = F->o.max_unknown_size;
    } else {
        struct statvfs vf;
        uint64_t avail = UNK, reserve = UNKNOWN_RESERVE + F->o.min_free_bytes;
        if (statvfs(dir, &vf) == 0)
            avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
        /* On a small file system the reserve is a quarter of the free
         * space, so that it still takes small files of unknown length. */
        if (avail != UNK && avail / 4 < UNKNOWN_RESERVE)
            reserve = avail / 4 + F->o.min_free_bytes;
        ff->cap_unknown = avail == UNK ? UNK
                          : avail > reserve ? avail - reserve : 0;
        ff->cap_is_default = 1;
    }

    if (sidecar_load(ff, &sz, &done) == 0) {
        ff->fd = open_regular(f->staging_path, O_RDWR, 0);
        if (ff->fd >= 0) {
            struct stat st;
            size_t nd = json_array_size(done);
            json_int_t last_end = 0;
            if (nd)
                json_unpack(json_array_get(done, nd - 1), "[_I]", &last_end);
            if (fstat(ff->fd, &st) != 0 || (uint64_t)st.st_size <
                                                (uint64_t)last_end) {
                close(ff->fd);
                ff->fd = -1;
            }
        }
        if (ff->fd >= 0) {
            for (i = 0; i < json_array_size(done); i++) {
                json_int_t s, e;
                json_unpack(json_array_get(done, i), "[II]", &s, &e);
                if (range_add(ff, (uint64_t)s, (uint64_t)e,
                            (uint64_t)(e - s), RANGE_DONE))
                    break;
                ff->resumed += (uint64_t)(e - s);
            }
            ff->have = ff->resumed;
            ff->total = sz;
            ff->expect = ff->expect != UNK ? ff->expect : sz;
            if (fill_gaps(ff, sz)) {
                json_decref(done);
                return apx_error_set(err, AP_ENOMEM, "out of memory");
            }
            ff->mode = ff->resumed == sz ? M_RANGED : M_PROBE;
        } else {
            ff->nranges = 0;
            ff->resumed = 0;
            free(ff->etag);
            ff->etag = NULL;
        }
        json_decref(done);
    }
    if (ff->fd < 0) {
        unlink(ff->state_path);
        ff->fd = open_regular(f->staging_path, O_RDWR | O_CREAT, 0644);
        if (ff->fd < 0 && (errno == ELOOP || errno == EINVAL)) {
            /* A symbolic link, FIFO, socket or device was planted at the
             * staging path: the staging directory is ours, so the entry
             * goes (never what it points to) and a fresh regular file
             * takes its place; O_EXCL | O_NOFOLLOW so a second planting
             * in between is refused, not followed. */
            struct stat st;
            if (lstat(f->staging_path, &st) == 0 && !S_ISREG(st.st_mode) &&
                !S_ISDIR(st.st_mode) && unlink(f->staging_path) == 0)
                ff->fd = open_regular(f->staging_path,
                                      O_RDWR | O_CREAT | O_EXCL, 0644);
            else
                errno = EINVAL;
            if (ff->fd < 0 && errno == EINVAL)
                return apx_error_set(err, AP_EIO,
                                     "%s: staging path %s is not a regular "
                                     "file and cannot be replaced",
                                     flabel(ff), f->staging_path);
        }
        if (ff->fd < 0)
            return apx_error_set(err, AP_EIO, "%s: cannot open %s: %s",
                                 flabel(ff), f->staging_path,
                                 strerror(errno));
        ff->opened = 1;
        if (ftruncate(ff->fd, 0) != 0)
            return apx_error_set(err, AP_EIO, "%s: cannot truncate %s: %s",
                                 flabel(ff), f->staging_path,
                                 strerror(errno));
        if (ff->expect == 0) {
            ff->mode = M_STREAM;
            range_add(ff, 0, UNK, 0, RANGE_IDLE);
        } else {
            ff->mode = M_PROBE;
            range_add(ff, 0,
                    ff->expect != UNK && ff->expect < F->o.chunk_size
                        ? ff->expect
                        : F->o.chunk_size,
                    0, RANGE_IDLE);
        }
    }
    if (!ff->nranges && ff->total != 0)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    ff->gen_posted = ff->gen_progress = 0;
    return AP_OK;
}

/* statvfs of each staging dir against the bytes still to come. */
static int check_space(fetch *F, apx_error *err)
{
    size_t i, k;
    for (i = 0; i < F->n; i++) {
        struct stat st0;
        struct statvfs vf;
        uint64_t need = 0, avail;
        char *dir = dir_of(F->files[i].f->staging_path);
        int seen = 0, nneed = 0;
        const ffile *first = NULL;
        if (!dir)
            return apx_error_set(err, AP_ENOMEM, "out of memory");
        if (stat(dir, &st0) != 0 || statvfs(dir, &vf) != 0) {
            free(dir);
            continue;
        }
        for (k = 0; k < i && !seen; k++) {
            struct stat sk;
            char *dk = dir_of(F->files[k].f->staging_path);
            if (dk && stat(dk, &sk) == 0 && sk.st_dev == st0.st_dev)
                seen = 1;
            free(dk);
        }
        if (seen) {
            free(dir);
            continue;
        }
        for (k = i; k < F->n; k++) {
            ffile *ff = &F->files[k];
            struct stat sk, fs;
            char *dk = dir_of(ff->f->staging_path);
            uint64_t size = ff->total != UNK ? ff->total : ff->expect;
            if (dk && stat(dk, &sk) == 0 && sk.st_dev == st0.st_dev &&
                size != UNK) {
                uint64_t alloc = 0;
                if (ff->fd >= 0 && fstat(ff->fd, &fs) == 0)
                    alloc = (uint64_t)fs.st_blocks * 512u;
                if (size > alloc) {
                    uint64_t add = size - alloc;
                    need = need > UINT64_MAX - add ? UINT64_MAX : need + add;
                    if (!first)
                        first = ff;
                    nneed++;
                }
            }
            free(dk);
        }
        avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
        if (need > 0 && (need > avail ||
                         avail - need < F->o.min_free_bytes)) {
            char more[48] = "";
            if (nneed > 1)
                snprintf(more, sizeof more, " and %d more file%s",
                         nneed - 1, nneed > 2 ? "s" : "");
            apx_error_set(err, AP_ENOSPC,
                          "%s%s: not enough space in %s: need %llu bytes "
                          "(+%llu reserved), %llu available",
                          first ? flabel(first) : "download", more,
                          dir, (unsigned long long)need,
                          (unsigned long long)F->o.min_free_bytes,
                          (unsigned long long)avail);
            free(dir);
            return AP_ENOSPC;
        }
        free(dir);
    }
    return AP_OK;
}

/* ------------------------------------------------------------------------
 * The loop */

static int file_may_start(const fetch *F, const ffile *ff)
{
    if (ff->done)
        return 0;
    if (ff->active >= F->o.connections_per_file + (F->ad.limit - F->ad.floor))
        return 0;
    if ((ff->mode == M_PROBE || ff->mode == M_STREAM) && ff->active)
        return 0;
    return 1;
}

static unsigned host_active(const fetch *F, const char *host)
{
    unsigned n = 0;
    const xfer *x;
    for (x = F->active; x; x = x->next)
        if (x->ff->host && host && strcmp(x->ff->host, host) == 0)
            n++;
    return n;
}

/* Start what can start; returns ms until the next backoff deadline. */
static uint64_t schedule(fetch *F, uint64_t now)
{
    uint64_t wait = UINT64_MAX;
    size_t i, k;
    for (i = 0; i < F->n && F->nactive < F->ad.limit && !F->fatal; i++) {
        ffile *ff = &F->files[i];
        for (k = 0; k < ff->nranges && file_may_start(F, ff) &&
                    F->nactive < F->ad.limit;
             k++) {
            range *j = &ff->ranges[k];
            if (j->state != RANGE_IDLE)
                continue;
            if (j->not_before > now) {
                if (j->not_before - now < wait)
                    wait = j->not_before - now;
                if (ff->mode != M_RANGED)
                    break;
                continue;
            }
            if (host_active(F, ff->host) >=
                F->o.max_per_host + (F->ad.limit - F->ad.floor))
                break;
            if (split_range(ff, k) != 0 || start_xfer(F, ff, k) != AP_OK) {
                fatal(F, AP_ENOMEM, "cannot start a transfer");
                return 0;
            }
            if (ff->mode != M_RANGED)
                break;
        }
    }
    return wait;
}

static void post_sidecars(fetch *F, uint64_t now, int force)
{
    size_t i;
    for (i = 0; i < F->n; i++) {
        ffile *ff = &F->files[i];
        char *t;
        if (ff->done || ff->total == UNK || ff->mode == M_PROBE ||
            ff->gen_progress == ff->gen_posted)
            continue;
        if (!force && now - ff->last_sync_ms < SYNC_INTERVAL_MS)
            continue;
        t = sidecar_text(ff);
        if (!t)
            continue;
        ff->gen_posted = ff->gen_progress;
        ff->last_sync_ms = now;
        syncer_post(F->sy, ff, t);
    }
}

/* Check complete files: all ranges done and the hasher caught up. */
static void check_complete(fetch *F)
{
    size_t i, k;
    for (i = 0; i < F->n; i++) {
        ffile *ff = &F->files[i];
        int all = 1, herr;
        uint64_t hashed;
        if (ff->done || ff->total == UNK || ff->active)
            continue;
        for (k = 0; k < ff->nranges; k++)
            if (ff->ranges[k].state != RANGE_DONE) {
                all = 0;
                break;
            }
        if (!all)
            continue;
        pthread_mutex_lock(&F->hmu);
        ff->h_total = ff->total;
        hashed = ff->h_seen_gen == ff->h_gen ? ff->h_hashed : 0;
        herr = ff->h_err;
        if (ff->h_avail < ff->total) {
            ff->h_avail = ff->total;
            pthread_cond_signal(&F->hcv);
        }
        pthread_mutex_unlock(&F->hmu);
        if (herr) {
            file_end_failed(F, ff, AP_EIO, 1, "%s: reading %s: %s",
                            flabel(ff), ff->f->staging_path, strerror(herr));
            continue;
        }
        if (hashed == ff->total)
            file_end_ok(F, ff);
    }
}

static void check_stalls(fetch *F, uint64_t now, uint64_t *next_ms)
{
    xfer *x;
    for (x = F->active; x; x = x->next) {
        uint64_t due = x->last_data_ms + F->o.stall_timeout_ms;
        if (x->killed || x->paused)
            continue;
        if (now >= due) {
            x->stalled = 1;
        } else if (due - now < *next_ms) {
            *next_ms = due - now;
        }
        /* minimum rate over a window; a window in which our own cap
         * paused a transfer proves nothing about the server */
        due = x->win_start_ms + F->o.min_rate_window_ms;
        if (now >= due) {
            double want = (double)F->o.min_rate *
                          (double)(now - x->win_start_ms) / 1000.0;
            if ((double)x->win_bytes < want &&
                !(F->o.max_bytes_per_sec &&
                  F->cap_pause_ms >= x->win_start_ms)) {
                x->stalled = 1;
                x->slow = 1;
            } else {
                x->win_start_ms = now;
                x->win_bytes = 0;
                due = now + F->o.min_rate_window_ms;
            }
        }
        if (due > now && due - now < *next_ms)
            *next_ms = due - now;
    }
}

static int run(fetch *F)
{
    struct curl_waitfd wfd;
    int nwfd = 0;
    if (F->cancel_fd >= 0) {
        wfd.fd = F->cancel_fd;
        wfd.events = CURL_WAIT_POLLIN;
        wfd.revents = 0;
        nwfd = 1;
    }
    for (;;) {
        uint64_t now = apx_now_ms(), timeout = 1000, w;
        int running, msgs, anything = 0;
        size_t i;
        CURLMsg *m;
        xfer *x, *nx;
        if (F->o.cancel && ap_cancel_is_set(F->o.cancel))
            return AP_ECANCELLED;
        if (F->fatal)
            return F->fatal;
        w = schedule(F, now);
        if (F->fatal)
            return F->fatal;
        apx_adapt_tick(&F->ad, now, F->nactive, F->rx);
        if (w < timeout)
            timeout = w;
        pace(F, now);
        curl_multi_perform(F->multi, &running);
        while ((m = curl_multi_info_read(F->multi, &msgs))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (x)
                handle_done(F, x, m->data.result);
        }
        /* stalled or killed transfers: remove them now */
        now = apx_now_ms();
        check_stalls(F, now, &timeout);
        for (x = F->active; x; x = nx) {
            nx = x->next;
            if (x->killed || x->stalled)
                handle_done(F, x, CURLE_OPERATION_TIMEDOUT);
        }
        if (F->fatal)
            return F->fatal;
        for (i = 0; i < F->n; i++)
            if (!F->files[i].done)
                compact_done(&F->files[i]);
        hasher_publish(F);
        check_complete(F);
        post_sidecars(F, now, 0);
        for (i = 0; i < F->n; i++)
            if (!F->files[i].done)
                anything = 1;
        for (i = 0; F->o.tracker && i < F->n; i++)
            tracker_sync(F, &F->files[i]);
        if (!anything)
            return AP_OK;
        if (F->o.tracker) {
            unsigned due;
            if (ap_tracker_tick(F->o.tracker) != 0) {
                fatal(F, AP_EUSER, "aborted by the event sink");
                return AP_EUSER;
            }
            due = ap_tracker_next_due_ms(F->o.tracker);
            if (due < timeout)
                timeout = due;
        }
        if (F->o.cancel && ap_cancel_is_set(F->o.cancel))
            return AP_ECANCELLED;
        if (!F->nactive && timeout > 50)
            timeout = 50; /* waiting on the hasher or a backoff */
        pace_timeout(F, &timeout);
        curl_multi_poll(F->multi, nwfd ? &wfd : NULL, (unsigned)nwfd,
                        (int)timeout, NULL);
    }
}

int apx_fetch(const apx_fetch_opts *opts, apx_fetch_file *files, size_t n,
              apx_error *err)
{
    fetch *F;
    size_t i;
    int rc = AP_OK, nfail = 0;
    apx_error local_err;
    if (!err)
        err = &local_err;
    if (!opts || (!files && n))
        return apx_error_set(err, AP_EINVAL, "apx_fetch: bad arguments");
    apx_error_clear(err);
    for (i = 0; i < n; i++) {
        files[i].status = AP_OK;
        files[i].sha256_out[0] = '\0';
        files[i].size_out = 0;
        files[i].bytes_fetched = 0;
        files[i].ranges_peak = 0;
        apx_error_clear(&files[i].err);
    }
    if (!n)
        return AP_OK;
    F = apx_calloc(1, sizeof *F);
    if (!F)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    F->o = *opts;
    if (!F->o.max_connections)
        F->o.max_connections = 8;
    if (!F->o.max_per_host)
        F->o.max_per_host = F->o.max_connections;
    if (!F->o.connections_per_file)
        F->o.connections_per_file = 8;
    if (!F->o.chunk_size)
        F->o.chunk_size = 8u * MIB;
    if (!F->o.max_attempts)
        F->o.max_attempts = 5;
    if (!F->o.stall_timeout_ms)
        F->o.stall_timeout_ms = 30000;
    if (!F->o.backoff_base_ms)
        F->o.backoff_base_ms = 250;
    if (!F->o.min_rate)
        F->o.min_rate = 1024;
    if (!F->o.min_rate_window_ms)
        F->o.min_rate_window_ms = 60000;
    apx_adapt_init(&F->ad, F->o.max_connections, F->o.adaptive_max);
    F->rng = apx_now_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)F;
    if (!F->rng)
        F->rng = 0x9E3779B97F4A7C15ull;
    F->cancel_fd = opts->cancel ? ap_cancel_token_fd(opts->cancel) : -1;
    F->h_busy_file = -1;
    pthread_mutex_init(&F->hmu, NULL);
    pthread_cond_init(&F->hcv, NULL);
    F->n = n;
    F->files = apx_calloc(n, sizeof *F->files);
    if (!F->files) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out_early;
    }
    for (i = 0; i < n; i++) {
        F->files[i].f = &files[i];
        F->files[i].F = F;
        F->files[i].idx = i;
        F->files[i].fd = -1;
        F->files[i].sync_idx = i;
    }
    for (i = 0; i < n; i++) {
        apx_error e;
        apx_error_clear(&e);
        if ((rc = file_prepare(F, &F->files[i], &e)) != AP_OK) {
            files[i].status = rc;
            files[i].err = e;
            *err = e;
            goto out_early;
        }
    }
    if ((rc = check_space(F, err)) != AP_OK) {
        for (i = 0; i < n; i++) {
            files[i].status = rc;
            files[i].err = *err;
            /* the empty file made by file_prepare goes; resumable data
             * (a valid sidecar) stays for a run with more space */
            if (!file_resumable(&F->files[i]))
                remove_staging(&F->files[i]);
        }
        goto out_early;
    }
    F->multi = curl_multi_init();
    F->sy = syncer_new(F);
    if (!F->multi || !F->sy) {
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
        goto out_early;
    }
    for (i = 0; i < n; i++) {
        F->sy->files[i].fd = dup(F->files[i].fd);
        F->sy->files[i].state_path = apx_strdup(F->files[i].state_path);
    }
    curl_multi_setopt(F->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(F->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)F->ad.cap);
    curl_multi_setopt(F->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)(F->o.max_per_host + (F->ad.cap - F->ad.floor)));
    if (pthread_create(&F->hth, NULL, hasher_main, F) != 0) {
        rc = apx_error_set(err, AP_ERROR, "cannot start the hasher thread");
        goto out_early;
    }
    F->h_started = 1;
    syncer_start(F->sy);

    rc = run(F);

    /* drop every transfer at once */
    while (F->active)
        xfer_release(F, F->active);
    if (rc == AP_ECANCELLED || rc == AP_EUSER || rc == AP_ENOSPC ||
        rc == AP_ENOMEM) {
        const char *what = rc == AP_ECANCELLED ? "cancelled"
                           : rc == AP_EUSER    ? "aborted by a callback"
                           : rc == AP_ENOSPC   ? "aborted: no space left"
                                               : "aborted: out of memory";
        for (i = 0; i < n; i++) {
            ffile *ff = &F->files[i];
            if (!ff->done)
                file_end_failed(F, ff, rc, 0, "%s: %s", flabel(ff), what);
        }
    }
    {
        int first = -1;
        for (i = 0; i < n; i++)
            if (files[i].status != AP_OK) {
                nfail++;
                if (first < 0)
                    first = (int)i;
            }
        if (rc == AP_ECANCELLED) {
            apx_error_set(err, rc, "cancelled");
        } else if (F->fatal) {
            rc = F->fatal;
            *err = F->fatal_err;
        } else if (first >= 0) {
            rc = files[first].status;
            *err = files[first].err;
        } else {
            rc = AP_OK;
        }
        if (nfail > 1 && rc != AP_ECANCELLED) {
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l,
                     " (and %d more failure%s)", nfail - 1,
                     nfail > 2 ? "s" : "");
        }
        err->status = rc;
    }

out_early:
    if (F->h_started) {
        pthread_mutex_lock(&F->hmu);
        F->h_stop = 1;
        pthread_cond_broadcast(&F->hcv);
        pthread_mutex_unlock(&F->hmu);
        pthread_join(F->hth, NULL);
    }
    while (F->active)
        xfer_release(F, F->active);
    for (i = 0; F->files && i < n; i++) {
        ffile *ff = &F->files[i];
        if (!ff->done && rc != AP_OK && files[i].status == AP_OK) {
            files[i].status = rc;
            files[i].err = *err;
        }
        files[i].tracker_done = ff->tr_have;
        files[i].tracker_total = ff->tr_total;
        if (ff->fd >= 0)
            close(ff->fd);
        /* a batch that stopped before this file ran (a later file could
         * not be prepared, no memory): its fresh empty file goes */
        if (ff->opened && !ff->done && files[i].status != AP_OK)
            remove_unresumable(ff);
        apx_digest_free(ff->sha256);
        apx_digest_free(ff->sha1);
        free(ff->ranges);
        free(ff->url);
        free(ff->host);
        free(ff->orig_origin);
        free(ff->dir);
        free(ff->shown);
        free(ff->etag);
        free(ff->validator);
        free(ff->state_path);
    }
    syncer_finish(F->sy);
    while (F->npool)
        curl_easy_cleanup(F->pool[--F->npool]);
    if (F->multi)
        curl_multi_cleanup(F->multi);
    pthread_mutex_destroy(&F->hmu);
    pthread_cond_destroy(&F->hcv);
    free(F->files);
    free(F);
    return rc;
}
