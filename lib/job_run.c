/* libartifactprov — the job registry's workers: a job's life from the
 * queue to its end (run with the worker's provisioner, its events pushed
 * into the job's ring, its final state), and the references that keep a
 * job alive.  Locking and lifetimes: lib/jobs.c.
 * SPDX-License-Identifier: MIT */
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

/* ---- jobs ---------------------------------------------------------------- */

/* *dst = a copy of src (the members src->struct_size covers); strings
 * copied (an allocation failure loses the string, never the figures). */
static void prog_set(prog *dst, const ap_progress *src)
{
    job_prog_clear(dst);
    if (!src)
        return;
    memcpy(&dst->v, src, src->struct_size < sizeof dst->v ? src->struct_size
                                                          : sizeof dst->v);
    dst->v.struct_size = sizeof dst->v;
    dst->v.artifact = NULL;
    dst->file = apx_strdup(src->file);
    dst->phase = src->struct_size >= offsetof(ap_progress, phase) + sizeof src->phase
                     ? apx_strdup(src->phase) : NULL;
    dst->sha256 = AP_PROGRESS_HAS(src, file_sha256) ? apx_strdup(src->file_sha256) : NULL;
    dst->v.file = dst->file;
    dst->v.phase = dst->phase;
    dst->v.file_sha256 = dst->sha256;
}

/* Under the lock: append an event to the ring (strings copied; an
 * allocation failure loses the string, never the event). */
static void push_event(jjob *j, ap_event_kind kind, ap_log_level level, int status,
                       const char *file, const char *message, const prog *p,
                       int final)
{
    uint64_t seq = ++j->last_seq;
    ev_rec *e = &j->ring[(seq - 1) % j->cap];
    job_rec_clear(e);
    e->seq = seq;
    e->kind = kind;
    e->level = level;
    e->status = status;
    e->final = final;
    e->file = apx_strdup(file);
    e->message = apx_strdup(message);
    prog_set(&e->p, &p->v);
    e->time_ms = jobs_wall_ms();
    pthread_cond_broadcast(&j->cv);
}

static void event_from_rec(const jjob *j, const ev_rec *e, ap_event *ev,
                           ap_progress *pr)
{
    *pr = e->p.v;
    pr->job_id = j->id;
    pr->artifact = j->ref;
    memset(ev, 0, sizeof *ev);
    ev->struct_size = sizeof *ev;
    ev->kind = e->kind;
    ev->job_id = j->id;
    ev->artifact = j->ref;
    ev->file = e->file;
    ev->status = e->status;
    ev->message = e->message;
    ev->progress = pr;
    ev->level = e->level;
}

/* Under the lock: forget the oldest finished jobs beyond max_finished. */
static void trim_finished(ap_jobs *r)
{
    jjob *j = r->head, *next;
    while (j && r->nfinished > r->o.max_finished) {
        next = j->next;
        if (job_ended(j))
            job_unlink(r, j);
        j = next;
    }
}

/*
 * Under the lock: end a job, recording its final state and event.  *fin
 * receives a copy of that event for deliver_final().  The caller holds a
 * reference to j (trimming may unlink it).
 */
static void finish_locked(ap_jobs *r, jjob *j, int rc, const char *msg,
                          char *entry_id, char *entry_json, ev_rec *fin)
{
    ap_event_kind kind;

    if (rc == AP_OK) {
        j->state = AP_JOB_DONE;
        kind = AP_EVENT_DONE;
    } else if (rc == AP_ECANCELLED) {
        j->state = AP_JOB_CANCELLED;
        kind = AP_EVENT_CANCELLED;
    } else {
        j->state = AP_JOB_FAILED;
        kind = AP_EVENT_ERROR;
    }
    j->status = rc;
    free(j->message);
    j->message = rc != AP_OK ? apx_strdup(msg ? msg : ap_strerror(rc)) : NULL;
    free(j->entry_id);
    j->entry_id = entry_id;
    free(j->entry_json);
    j->entry_json = entry_json;
    j->finished = apx_wall_s();
    /* The figures are the tracker's, as a direct ap_provision() caller
     * sees them: nothing is patched here. */
    r->nfinished++;
    /* The final event: the tracker's own when it made one (its file and
     * message), else one made here (a job that failed before tracking). */
    push_event(j, kind, j->has_pending && j->pending.kind == kind ? j->pending.level
                                                                  : apx_event_level(kind), rc,
               j->has_pending ? j->pending.file : NULL,
               rc == AP_OK ? (j->has_pending ? j->pending.message : NULL)
                           : j->message,
               &j->p, 1);
    job_rec_clear(&j->pending);
    j->has_pending = 0;
    *fin = j->ring[(j->last_seq - 1) % j->cap];
    fin->file = apx_strdup(fin->file);
    fin->message = apx_strdup(fin->message);
    fin->p.file = fin->p.phase = fin->p.sha256 = NULL; /* the ring's: copy them */
    prog_set(&fin->p, &j->ring[(j->last_seq - 1) % j->cap].p.v);
    trim_finished(r);
}

/* Without the lock: hand the final event to the sink. */
static void deliver_final(ap_jobs *r, jjob *j, ev_rec *fin)
{
    ap_event ev;
    ap_progress pr;
    if (r->o.sink) {
        event_from_rec(j, fin, &ev, &pr);
        (void)r->o.sink(&ev, r->o.sink_user);
    }
    job_rec_clear(fin);
}

/* Under the lock: end a queued job as cancelled, sink included (the lock
 * is dropped around the sink call). */
void job_cancel_queued_locked(ap_jobs *r, jjob *j, const char *why)
{
    ev_rec fin;
    r->nqueued--;
    j->refs++;
    ap_cancel(j->cancel);
    finish_locked(r, j, AP_ECANCELLED, why, NULL, NULL, &fin);
    pthread_mutex_unlock(&r->mu);
    deliver_final(r, j, &fin);
    pthread_mutex_lock(&r->mu);
    job_unref(j);
}

/* The provisioner's event callback, on the worker thread. */
static int job_on_event(const ap_event *ev, void *user)
{
    jjob *j = user;
    ap_jobs *r = j->reg;

    pthread_mutex_lock(&r->mu);
    prog_set(&j->p, ev->progress);
    if (!j->p.file && ev->file) { /* the file the event is about */
        j->p.file = apx_strdup(ev->file);
        j->p.v.file = j->p.file;
    }
    if (jobs_final_kind(ev->kind)) {
        /* Published by finish_locked once the state says the same. */
        job_rec_clear(&j->pending);
        j->pending.kind = ev->kind;
        j->pending.status = ev->status;
        j->pending.level = AP_EVENT_HAS(ev, level) ? ev->level : apx_event_level(ev->kind);
        j->pending.file = apx_strdup(ev->file);
        j->pending.message = apx_strdup(ev->message);
        prog_set(&j->pending.p, &j->p.v);
        j->has_pending = 1;
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    push_event(j, ev->kind, AP_EVENT_HAS(ev, level) ? ev->level : apx_event_level(ev->kind),
               ev->status, ev->file, ev->message, &j->p, 0);
    pthread_mutex_unlock(&r->mu);
    if (r->o.sink && ev->job_id == j->id)
        return r->o.sink(ev, r->o.sink_user);
    if (r->o.sink) {
        /* Never expected: the tracker stamps our id.  Re-stamp rather
         * than hand the sink an event with another job's id. */
        ap_event copy = *ev;
        copy.job_id = j->id;
        return r->o.sink(&copy, r->o.sink_user);
    }
    return 0;
}

static void run_job(ap_jobs *r, jjob *j, ap_provisioner **provp)
{
    ap_provision_options o = j->o;
    ap_entry *entry = NULL;
    char *entry_id = NULL, *entry_json = NULL;
    const char *msg = NULL;
    char buf[512];
    int rc = AP_OK;

    if (!*provp) {
        rc = ap_provisioner_new(provp, &r->po);
        if (rc != AP_OK) {
            snprintf(buf, sizeof buf, "%s: cannot open the store%s%s: %s", j->ref,
                     r->home ? " " : "", r->home ? r->home : "", ap_strerror(rc));
            msg = buf;
        }
    }
    if (rc == AP_OK) {
        o.cancel = j->cancel;
        o.on_event = job_on_event;
        o.event_user = j;
        o.job_id = j->id;
        rc = ap_provision(*provp, j->ref, &o, &entry);
        if (rc != AP_OK) {
            msg = ap_provisioner_errmsg(*provp);
            if (ap_cancel_is_set(j->cancel) && rc != AP_ECANCELLED && rc != AP_EUSER)
                rc = AP_ECANCELLED; /* the failure is the cancellation's doing */
        }
    }
    if (rc == AP_OK && entry) {
        entry_id = apx_strdup(entry->id);
        (void)ap_entry_to_json(entry, &entry_json);
    }
    ap_entry_free(entry);
    {
        ev_rec fin;
        pthread_mutex_lock(&r->mu);
        finish_locked(r, j, rc, msg, entry_id, entry_json, &fin);
        pthread_mutex_unlock(&r->mu);
        deliver_final(r, j, &fin);
    }
}

/* Under the lock: the oldest queued job, or NULL. */
jjob *jobs_find_queued(ap_jobs *r)
{
    jjob *j;
    if (!r->nqueued)
        return NULL;
    for (j = r->head; j; j = j->next)
        if (j->state == AP_JOB_QUEUED)
            return j;
    return NULL;
}

void *jobs_worker_main(void *arg)
{
    worker_arg *w = arg;
    ap_jobs *r = w->r;
    ap_provisioner **provp = &r->provs[w->slot];
    jjob *j;

    free(w);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        j = jobs_find_queued(r);
        if (!j) {
            if (r->shutdown)
                break;
            pthread_cond_wait(&r->work, &r->mu);
            continue;
        }
        j->state = AP_JOB_RUNNING;
        j->started = apx_wall_s();
        r->nqueued--;
        j->refs++;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&r->mu);
        run_job(r, j, provp);
        pthread_mutex_lock(&r->mu);
        job_unref(j);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}
