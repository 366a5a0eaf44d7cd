/* libartifactprov — the engine's transfers: one HTTP request for a range
 * of a file (start_xfer), its header and body callbacks, the validation of
 * the response before its first byte is written, and the tracker's
 * figures that the body moves.  The loop (lib/engine.c) starts and ends
 * them.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"
#include "fault.h"
#include "http_parse.h"
#include "progress.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void tracker_sync(fetch *F, ffile *ff)
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

void xfer_why(xfer *x, int reason, const char *fmt, ...)
{
    va_list ap;
    x->reason = reason;
    va_start(ap, fmt);
    vsnprintf(x->why, sizeof x->why, fmt, ap);
    va_end(ap);
}

void kill_file_xfers(ffile *ff, const xfer *keep)
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

/* The probe's 206 taught the total size: cut its range to a chunk of that
 * size, the rest becomes gaps for the other connections, the file is
 * allocated.  0, or -1 with the cause in x. */
static int probe_learnt_size(xfer *x)
{
    ffile *ff = x->ff;
    range *j = &ff->ranges[x->ji];
    int e;
    if (ff->total == UNK &&
        check_announced(ff, x->cr_total, "Content-Range", x->why,
                        sizeof x->why) != 0) {
        x->reason = R_ENOSPC;
        return -1;
    }
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
    return 0;
}

/* A 206: the range asked for, of the same content.  0, or -1 with the
 * cause in x. */
static int validate_partial(xfer *x)
{
    ffile *ff = x->ff;
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
    if (ff->mode == M_PROBE)
        return probe_learnt_size(x);
    return 0;
}

/* A 200: the whole entity from byte 0; the file restarts as one stream.
 * 0, or -1 with the cause in x. */
static int validate_whole(xfer *x)
{
    ffile *ff = x->ff;
    uint64_t len = x->clen != UNK ? x->clen : ff->expect;
    int e;
    if (ff->expect != UNK && x->clen != UNK && x->clen != ff->expect) {
        xfer_why(x, R_SIZE, "server sends %llu bytes, expected %llu",
                 (unsigned long long)x->clen,
                 (unsigned long long)ff->expect);
        return -1;
    }
    if (x->clen != UNK && ff->expect == UNK &&
        check_announced(ff, x->clen, "Content-Length", x->why,
                        sizeof x->why) != 0) {
        x->reason = R_ENOSPC;
        return -1;
    }
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
    return 0;
}

/* Validate the response of x before its first body byte is accepted: a
 * redirect or an error is discarded (handle_done judges it), a 206 or a
 * 200 must fit the file.  0, or -1 with the cause in x. */
int validate(xfer *x)
{
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
    if (code == 206)
        return validate_partial(x);
    return validate_whole(x);
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


int start_xfer(fetch *F, ffile *ff, size_t ji)
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
void xfer_release(fetch *F, xfer *x)
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
