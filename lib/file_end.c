/* libartifactprov — how a file of the engine ends: verified and kept
 * (file_end_ok), failed with its staging data kept for a resume or removed
 * (file_end_failed), a failed attempt retried after a backoff
 * (attempt_failed), a restart from byte zero (reset_file), and the
 * conditions that stop the whole call (fatal).
 * SPDX-License-Identifier: MIT */
#include "fetch.h"
#include "fault.h"
#include "progress.h"
#include "retry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

void remove_staging(ffile *ff)
{
    unlink(ff->f->staging_path);
    unlink(ff->state_path);
}

/* Staging data without a sidecar is never resumed (file_prepare starts
 * such a file over): it goes, so that a failure before the first byte, or
 * before the first sidecar, leaves nothing behind. */
void remove_unresumable(ffile *ff)
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
int file_resumable(const ffile *ff)
{
    return ff->total != UNK && ff->mode != M_STREAM && !ff->ranges_broken &&
           (ff->validator || ff->etag);
}

/* Finish a file that did not succeed. keep: leave staging for resume. */
void file_end_failed(fetch *F, ffile *ff, int status, int sync_now,
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
                (void)sidecar_write(ff->state_path, t);
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

void file_end_ok(fetch *F, ffile *ff)
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
            uint64_t off = 0;
            apx_digest_reset(ff->sha1);
            apx_digest_git_blob_head(ff->sha1, total);
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
void fatal(fetch *F, int status, const char *fmt, ...)
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
void attempt_failed(fetch *F, ffile *ff, size_t ji, int cls,
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
void reset_file(fetch *F, ffile *ff, int no_ranges)
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
        range_probe(ff);
    }
}

void emit_log(fetch *F, ffile *ff, const char *msg)
{
    if (F->o.tracker &&
        ap_tracker_emit(F->o.tracker, AP_EVENT_RETRY, flabel(ff), 0, msg))
        fatal(F, AP_EUSER, "%s: aborted by the event sink", flabel(ff));
}
