/* libartifactprov — what callers read from the job registry: a job's
 * snapshot (ap_jobs_info), waiting for its end (ap_jobs_wait), its events by
 * sequence number (ap_jobs_events) and their JSON form.  Locking and
 * lifetimes: lib/jobs.c.  SPDX-License-Identifier: MIT */
#include "jobs_internal.h"

#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVENT_MIN_SIZE offsetof(ap_job_event, time_ms)

/* Under the lock: a full snapshot with owned strings. */
static int job_snapshot(const jjob *j, ap_job_info *s)
{
    ap_job_info d = AP_JOB_INFO_INIT;
    *s = d;
    s->id = j->id;
    s->state = j->state;
    s->status = j->status;
    s->ref = apx_strdup(j->ref);
    s->message = apx_strdup(j->message);
    s->entry_id = apx_strdup(j->entry_id);
    s->last_seq = j->last_seq;
    s->submitted = j->submitted;
    s->started = j->started;
    s->finished = j->finished;
    if (job_prog_export(&s->progress, &j->p, j->ref) != AP_OK || !s->ref ||
        (j->message && !s->message) || (j->entry_id && !s->entry_id)) {
        ap_job_info_clear(s);
        return AP_ENOMEM;
    }
    s->progress.job_id = j->id;
    if (job_ended(j))
        s->progress.rate = 0.0; /* nothing moves any more */
    return AP_OK;
}

/* Free the strings of *p whose slots lie inside (inside = 1) or beyond
 * (inside = 0) the first `avail` bytes of it. */
static void progress_strings_free(ap_progress *p, size_t avail, int inside)
{
#define PSTR(m)                                                              \
    if ((avail >= offsetof(ap_progress, m) + sizeof p->m) == !!inside) {     \
        free((char *)p->m);                                                  \
        p->m = NULL;                                                         \
    }
    PSTR(artifact)
    PSTR(file)
    PSTR(phase)
    PSTR(file_sha256)
#undef PSTR
}

/* Copy a full snapshot into the caller's (possibly older, smaller) struct;
 * strings it has no room for are freed. */
static void info_out(ap_job_info *out, ap_job_info *full)
{
    size_t sz = out->struct_size, n = sz < sizeof *full ? sz : sizeof *full;
    size_t po = offsetof(ap_job_info, progress), have = n > po ? n - po : 0;
    progress_strings_free(&full->progress, have, 0);
    memcpy(out, full, n);
    out->struct_size = sz;
    if (have >= sizeof(size_t))
        out->progress.struct_size = have < sizeof(ap_progress) ? have : sizeof(ap_progress);
}

#define INFO_MIN_SIZE (offsetof(ap_job_info, entry_id) + sizeof(char *))

AP_EXPORT void ap_job_info_clear(ap_job_info *info)
{
    if (!info || info->struct_size < INFO_MIN_SIZE)
        return;
    free(info->ref);
    free(info->message);
    free(info->entry_id);
    info->ref = info->message = info->entry_id = NULL;
    if (info->struct_size > offsetof(ap_job_info, progress))
        progress_strings_free(&info->progress,
                              info->struct_size - offsetof(ap_job_info, progress), 1);
}

static int jobs_info_impl(ap_jobs *r, ap_job_id id, ap_job_info *out)
{
    ap_job_info full;
    jjob *j;
    int rc;
    if (!jobs_check(r) || !out || out->struct_size < INFO_MIN_SIZE)
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    rc = j ? job_snapshot(j, &full) : AP_ENOTFOUND;
    pthread_mutex_unlock(&r->mu);
    if (rc == AP_OK)
        info_out(out, &full);
    return rc;
}

/* Absolute CLOCK_MONOTONIC deadline timeout_ms from now. */
static struct timespec deadline_after(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Under the lock: wait on j's condition; 0 when the deadline passed. */
static int wait_on(ap_jobs *r, jjob *j, int timeout_ms, const struct timespec *dl)
{
    if (timeout_ms == 0)
        return 0;
    if (timeout_ms < 0) {
        pthread_cond_wait(&j->cv, &r->mu);
        return 1;
    }
    return pthread_cond_timedwait(&j->cv, &r->mu, dl) != ETIMEDOUT;
}

/* Lock the registry and take a reference on job id (with the deadline
 * timeout_ms from now in *dl when positive); NULL, unlocked, when there is
 * no such job. */
static jjob *hold_job(ap_jobs *r, ap_job_id id, int timeout_ms, struct timespec *dl)
{
    jjob *j;
    if (timeout_ms > 0)
        *dl = deadline_after(timeout_ms);
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j) {
        pthread_mutex_unlock(&r->mu);
        return NULL;
    }
    j->refs++;
    return j;
}

static int jobs_wait_impl(ap_jobs *r, ap_job_id id, int timeout_ms,
                           ap_job_info *out)
{
    struct timespec dl;
    ap_job_info full;
    jjob *j;
    int rc = AP_OK, snap = AP_OK;

    if (!jobs_check(r) || (out && out->struct_size < INFO_MIN_SIZE))
        return AP_EINVAL;
    if (!(j = hold_job(r, id, timeout_ms, &dl)))
        return AP_ENOTFOUND;
    while (!job_ended(j) && j->linked) {
        if (!wait_on(r, j, timeout_ms, &dl)) {
            rc = job_ended(j) ? AP_OK : AP_ETIMEDOUT;
            break;
        }
    }
    if (!j->linked && !job_ended(j))
        rc = AP_ENOTFOUND;
    if (out && rc != AP_ENOTFOUND)
        snap = job_snapshot(j, &full);
    job_unref(j);
    pthread_mutex_unlock(&r->mu);
    if (out && rc != AP_ENOTFOUND) {
        if (snap != AP_OK)
            return snap;
        info_out(out, &full);
    }
    return rc;
}

/* The strings of an event the caller's element holds `size` bytes of. */
static void event_strings_free(ap_job_event *e, size_t size)
{
    size_t po = offsetof(ap_job_event, progress);
    free(e->file);
    free(e->message);
    e->file = e->message = NULL;
    if (size > po)
        progress_strings_free(&e->progress, size - po, 1);
}

AP_EXPORT void ap_job_events_clear(ap_job_event *buf, size_t n)
{
    size_t i, stride;
    if (!buf || !n || buf[0].struct_size < EVENT_MIN_SIZE)
        return;
    stride = buf[0].struct_size;
    for (i = 0; i < n; i++)
        event_strings_free((ap_job_event *)(void *)((char *)buf + i * stride), stride);
}

static int jobs_events_impl(ap_jobs *r, ap_job_id id, uint64_t after_seq,
                             int timeout_ms, ap_job_event *buf, size_t n,
                             size_t *got)
{
    struct timespec dl;
    size_t stride, k = 0;
    jjob *j;
    int rc = AP_OK;

    if (got)
        *got = 0;
    if (!jobs_check(r) || !buf || !n || !got || buf[0].struct_size < EVENT_MIN_SIZE)
        return AP_EINVAL;
    stride = buf[0].struct_size;
    if (!(j = hold_job(r, id, timeout_ms, &dl)))
        return AP_ENOTFOUND;
    for (;;) {
        uint64_t oldest = j->last_seq >= j->cap ? j->last_seq - j->cap + 1 : 1;
        uint64_t first = after_seq + 1 > oldest ? after_seq + 1 : oldest;
        if (first <= j->last_seq) {
            uint64_t s;
            for (s = first; s <= j->last_seq && k < n; s++) {
                const ev_rec *e = &j->ring[(s - 1) % j->cap];
                ap_job_event full = AP_JOB_EVENT_INIT;
                ap_job_event *dst = (ap_job_event *)(void *)((char *)buf + k * stride);
                size_t po = offsetof(ap_job_event, progress);
                size_t have = stride > po ? stride - po : 0;
                full.seq = e->seq;
                full.job_id = j->id;
                full.kind = e->kind;
                full.level = e->level;
                full.status = e->status;
                full.final = e->final;
                full.time_ms = e->time_ms;
                full.file = apx_strdup(e->file);
                full.message = apx_strdup(e->message);
                if ((e->file && !full.file) || (e->message && !full.message) ||
                    job_prog_export(&full.progress, &e->p, j->ref) != AP_OK) {
                    event_strings_free(&full, sizeof full);
                    rc = AP_ENOMEM;
                    break;
                }
                full.progress.job_id = j->id;
                /* strings the caller's element has no room for */
                progress_strings_free(&full.progress, have, 0);
                if (stride < sizeof full) {
                    memcpy(dst, &full, stride);
                } else {
                    memset(dst, 0, stride);
                    memcpy(dst, &full, sizeof full);
                }
                if (have >= sizeof(size_t))
                    dst->progress.struct_size = have < sizeof(ap_progress)
                                                    ? have : sizeof(ap_progress);
                dst->struct_size = stride;
                k++;
            }
            break;
        }
        if (job_ended(j) || !j->linked)
            break;
        if (!wait_on(r, j, timeout_ms, &dl))
            break;
    }
    job_unref(j);
    pthread_mutex_unlock(&r->mu);
    if (rc != AP_OK) {
        ap_job_events_clear(buf, k);
        k = 0;
    }
    *got = k;
    return rc;
}

/* ---- JSON ------------------------------------------------------------------ */

AP_EXPORT int ap_job_event_to_json(const ap_job_event *ev, char **out)
{
    json_t *obj;
    ap_progress p;
    size_t po = offsetof(ap_job_event, progress);
    int rc;
    apx_error_tls_reset();
    if (out)
        *out = NULL;
    if (!ev || !out || ev->struct_size < EVENT_MIN_SIZE)
        return apx_error_set(NULL, AP_EINVAL, "ap_job_event_to_json: no event, no "
                             "output, or an event struct_size below the minimum");
    memset(&p, 0, sizeof p);
    p.percent = p.eta = -1;
    if (ev->struct_size > po + sizeof(size_t)) {
        size_t have = ev->struct_size - po;
        memcpy(&p, &ev->progress, have < sizeof p ? have : sizeof p);
        if (p.struct_size > have)
            p.struct_size = have;
    }
    if (!(obj = json_object()))
        return apx_error_set(NULL, AP_ENOMEM, "ap_job_event_to_json: out of memory");
    rc = apx_event_json_fill(obj, ev->kind, ev->job_id, ev->level, ev->status,
                             ev->file, ev->message, &p);
    if (rc == AP_OK && (json_object_set_new(obj, "seq", json_integer((json_int_t)ev->seq)) ||
                        json_object_set_new(obj, "final", json_boolean(ev->final)) ||
                        json_object_set_new(obj, "time_ms",
                                            json_integer((json_int_t)ev->time_ms))))
        rc = AP_ENOMEM;
    if (rc != AP_OK) {
        json_decref(obj);
        return apx_error_set(NULL, rc, "ap_job_event_to_json: out of memory");
    }
    rc = apx_json_dump_out(obj, out);
    return rc ? apx_error_set(NULL, rc, "ap_job_event_to_json: out of memory") : AP_OK;
}

AP_EXPORT int ap_jobs_info(ap_jobs *r, ap_job_id id, ap_job_info *out)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_info_impl(r, id, out);
    return jobs_fail(rc, jobs_why_id(rc), "job %" PRIu64 ": cannot take a snapshot", id);
}

AP_EXPORT int ap_jobs_wait(ap_jobs *r, ap_job_id id, int timeout_ms,
                           ap_job_info *out)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_wait_impl(r, id, timeout_ms, out);
    if (rc == AP_ETIMEDOUT)
        return apx_error_set(NULL, rc, "job %" PRIu64 ": still queued or running "
                             "after %d ms", id, timeout_ms);
    return jobs_fail(rc, jobs_why_id(rc), "cannot wait for job %" PRIu64, id);
}

AP_EXPORT int ap_jobs_events(ap_jobs *r, ap_job_id id, uint64_t after_seq,
                             int timeout_ms, ap_job_event *buf, size_t n,
                             size_t *got)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_events_impl(r, id, after_seq, timeout_ms, buf, n, got);
    return jobs_fail(rc, rc == AP_EINVAL ? "invalid argument (no registry, no buffer, "
                 "n == 0, no count, or buf[0].struct_size below the minimum)"
                 : jobs_why_id(rc), "job %" PRIu64 ": cannot read its events", id);
}
