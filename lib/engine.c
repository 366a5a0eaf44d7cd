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

/* A new call's state: the options with their defaults, one ffile per
 * file.  NULL when out of memory. */
static fetch *fetch_new(const apx_fetch_opts *opts, apx_fetch_file *files,
                        size_t n)
{
    fetch *F = apx_calloc(1, sizeof *F);
    size_t i;
    if (!F)
        return NULL;
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
    for (i = 0; F->files && i < n; i++) {
        F->files[i].f = &files[i];
        F->files[i].F = F;
        F->files[i].idx = i;
        F->files[i].fd = -1;
        F->files[i].sync_idx = i;
    }
    return F;
}

/* Prepare every file and check the space they need. */
static int prepare_files(fetch *F, apx_fetch_file *files, apx_error *err)
{
    size_t i;
    int rc;
    for (i = 0; i < F->n; i++) {
        apx_error e;
        apx_error_clear(&e);
        if ((rc = file_prepare(F, &F->files[i], &e)) != AP_OK) {
            files[i].status = rc;
            files[i].err = e;
            *err = e;
            return rc;
        }
    }
    if ((rc = check_space(F, err)) != AP_OK) {
        for (i = 0; i < F->n; i++) {
            files[i].status = rc;
            files[i].err = *err;
            /* the empty file made by file_prepare goes; resumable data
             * (a valid sidecar) stays for a run with more space */
            if (!file_resumable(&F->files[i]))
                remove_staging(&F->files[i]);
        }
    }
    return rc;
}

/* The multi handle, the syncer and the hasher thread. */
static int start_engine(fetch *F, apx_error *err)
{
    size_t i;
    F->multi = curl_multi_init();
    F->sy = syncer_new(F);
    if (!F->multi || !F->sy)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    for (i = 0; i < F->n; i++) {
        F->sy->files[i].fd = dup(F->files[i].fd);
        F->sy->files[i].state_path = apx_strdup(F->files[i].state_path);
    }
    curl_multi_setopt(F->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(F->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)F->ad.cap);
    curl_multi_setopt(F->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)(F->o.max_per_host + (F->ad.cap - F->ad.floor)));
    if (pthread_create(&F->hth, NULL, hasher_main, F) != 0)
        return apx_error_set(err, AP_ERROR, "cannot start the hasher thread");
    F->h_started = 1;
    syncer_start(F->sy);
    return AP_OK;
}

/* The loop ended with rc: the files it stopped fail with it, and the
 * call's status and message are the first failure's (a cancel wins). */
static int summarize(fetch *F, apx_fetch_file *files, int rc, apx_error *err)
{
    size_t i, n = F->n;
    int first = -1, nfail = 0;
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
    return rc;
}

/* Stop the helpers, give each file its figures, free everything. */
static void fetch_free(fetch *F, apx_fetch_file *files, int rc,
                       const apx_error *err)
{
    size_t i;
    if (F->h_started) {
        pthread_mutex_lock(&F->hmu);
        F->h_stop = 1;
        pthread_cond_broadcast(&F->hcv);
        pthread_mutex_unlock(&F->hmu);
        pthread_join(F->hth, NULL);
    }
    while (F->active)
        xfer_release(F, F->active);
    for (i = 0; F->files && i < F->n; i++) {
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
}

int apx_fetch(const apx_fetch_opts *opts, apx_fetch_file *files, size_t n,
              apx_error *err)
{
    fetch *F;
    size_t i;
    int rc;
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
    F = fetch_new(opts, files, n);
    if (!F)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (!F->files)
        rc = apx_error_set(err, AP_ENOMEM, "out of memory");
    else if ((rc = prepare_files(F, files, err)) == AP_OK &&
             (rc = start_engine(F, err)) == AP_OK) {
        rc = run(F);
        /* drop every transfer at once */
        while (F->active)
            xfer_release(F, F->active);
        rc = summarize(F, files, rc, err);
    }
    fetch_free(F, files, rc, err);
    return rc;
}
