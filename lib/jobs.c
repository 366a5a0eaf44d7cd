/* libartifactprov — the job registry: a queue, a pool of worker threads
 * each with its own provisioner, and per-job event rings that followers
 * read by sequence number.  SPDX-License-Identifier: MIT
 *
 * Locking: one mutex per registry guards every job's state, ring and the
 * queue.  Each job has a condition variable (CLOCK_MONOTONIC) signalled on
 * every event and state change; workers wait on the registry's `work`
 * condition.  User code (the sink) is never called with the mutex held.
 * A job is freed when it is unlinked from the registry (forgotten,
 * trimmed or freed with the registry) and no call holds a reference. */
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


AP_EXPORT const char *ap_job_state_name(ap_job_state state)
{
    switch (state) {
    case AP_JOB_QUEUED: return "queued";
    case AP_JOB_RUNNING: return "running";
    case AP_JOB_DONE: return "done";
    case AP_JOB_FAILED: return "failed";
    case AP_JOB_CANCELLED: return "cancelled";
    }
    return "unknown";
}

AP_EXPORT void ap_jobs_options_init(ap_jobs_options *opts)
{
    ap_jobs_options d = AP_JOBS_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

/* ---- registry ------------------------------------------------------------ */

static void registry_destroy(ap_jobs *r)
{
    jjob *j, *next;
    size_t i;
    for (j = r->head; j; j = next) {
        next = j->next;
        job_free(j);
    }
    for (i = 0; r->provs && i < r->o.max_running; i++)
        ap_provisioner_free(r->provs[i]);
    free(r->provs);
    free(r->threads);
    free(r->home);
    free(r->vendor_path);
    pthread_cond_destroy(&r->work);
    pthread_condattr_destroy(&r->cattr);
    pthread_mutex_destroy(&r->mu);
    r->magic = JOBS_DEAD;
    free(r);
}

static int jobs_new_impl(ap_jobs **out, const ap_provisioner_options *popts,
                          const ap_jobs_options *opts)
{
    ap_jobs_options o = AP_JOBS_OPTIONS_INIT;
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    sigset_t all, old;
    ap_jobs *r;
    size_t i;
    int rc;

    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (opts) {
        if (opts->struct_size < offsetof(ap_jobs_options, max_queued))
            return AP_EINVAL;
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
        o.struct_size = sizeof o;
    }
    if (popts) {
        if (popts->struct_size < offsetof(ap_provisioner_options, home) + sizeof(char *))
            return AP_EINVAL;
        memcpy(&po, popts, popts->struct_size < sizeof po ? popts->struct_size : sizeof po);
        po.struct_size = sizeof po;
    }
    if (!o.max_running)
        o.max_running = DEF_RUNNING;
    if (o.max_running > 256)
        o.max_running = 256;
    if (!o.max_queued)
        o.max_queued = DEF_QUEUED;
    if (!o.max_finished)
        o.max_finished = DEF_FINISHED;
    if (!o.event_ring)
        o.event_ring = DEF_RING;
    if (o.event_ring < MIN_RING)
        o.event_ring = MIN_RING;

    r = apx_calloc(1, sizeof *r);
    if (!r)
        return AP_ENOMEM;
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return AP_ENOMEM;
    }
    pthread_condattr_init(&r->cattr);
    pthread_condattr_setclock(&r->cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->work, NULL);
    r->magic = JOBS_MAGIC;
    r->o = o;
    r->next_id = o.first_id ? o.first_id : 1;
    r->po = po;
    r->home = apx_strdup(po.home);
    r->vendor_path = apx_strdup(po.vendor_path);
    r->po.home = r->home;
    r->po.vendor_path = r->vendor_path;
    r->provs = apx_calloc(o.max_running, sizeof *r->provs);
    r->threads = apx_calloc(o.max_running, sizeof *r->threads);
    if (!r->provs || !r->threads || (po.home && !r->home) ||
        (po.vendor_path && !r->vendor_path)) {
        registry_destroy(r);
        return AP_ENOMEM;
    }
    /* One provisioner now: a store that cannot be opened fails here. */
    rc = ap_provisioner_new(&r->provs[0], &r->po);
    if (rc != AP_OK) {
        registry_destroy(r);
        return rc;
    }
    /* Workers take no signals: those belong to the application's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < o.max_running; i++) {
        worker_arg *w = apx_calloc(1, sizeof *w);
        if (!w)
            break;
        w->r = r;
        w->slot = i;
        if (pthread_create(&r->threads[i], NULL, jobs_worker_main, w) != 0) {
            free(w);
            break;
        }
        r->nthreads++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r->nthreads < o.max_running) {
        ap_jobs_free(r);
        return AP_ENOMEM;
    }
    *out = r;
    return AP_OK;
}

AP_EXPORT void ap_jobs_shutdown(ap_jobs *r)
{
    jjob *j;
    if (!jobs_check(r))
        return;
    pthread_mutex_lock(&r->mu);
    r->shutdown = 1;
    for (j = r->head; j; j = j->next)
        if (j->state == AP_JOB_RUNNING)
            ap_cancel(j->cancel);
    /* Queued jobs end here, one at a time (the sink runs unlocked). */
    for (;;) {
        if (!(j = jobs_find_queued(r)))
            break;
        job_cancel_queued_locked(r, j, "cancelled before it started (shutdown)");
    }
    pthread_cond_broadcast(&r->work);
    for (j = r->head; j; j = j->next)
        pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&r->mu);
}

AP_EXPORT void ap_jobs_free(ap_jobs *r)
{
    size_t i;
    if (!jobs_check(r))
        return;
    ap_jobs_shutdown(r);
    for (i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i], NULL);
    registry_destroy(r);
}

static int jobs_submit_impl(ap_jobs *r, const char *ref,
                             const ap_provision_options *opts, ap_job_id *out)
{
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    jjob *j;
    int ok = 1;

    if (out)
        *out = 0;
    if (!jobs_check(r) || !ref || !*ref || !out)
        return AP_EINVAL;
    if (opts) {
        if (opts->struct_size < offsetof(ap_provision_options, cancel))
            return AP_EINVAL;
        memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
        o.struct_size = sizeof o;
    }
    j = apx_calloc(1, sizeof *j);
    if (!j)
        return AP_ENOMEM;
    if (pthread_cond_init(&j->cv, &r->cattr) != 0) {
        free(j);
        return AP_ENOMEM;
    }
    j->reg = r;
    j->ref = apx_strdup(ref);
    j->include = jobs_strv_dup(o.include, &ok);
    j->exclude = jobs_strv_dup(o.exclude, &ok);
    j->vendor_options = jobs_strv_dup(o.vendor_options, &ok);
    j->mirrors = jobs_strv_dup(o.mirrors, &ok);
    j->cancel = ap_cancel_token_new();
    j->cap = r->o.event_ring;
    j->ring = apx_calloc(j->cap, sizeof *j->ring);
    if (!ok || !j->ref || !j->cancel || !j->ring) {
        job_free(j);
        return AP_ENOMEM;
    }
    o.include = (const char *const *)j->include;
    o.exclude = (const char *const *)j->exclude;
    o.vendor_options = (const char *const *)j->vendor_options;
    o.mirrors = (const char *const *)j->mirrors;
    o.cancel = NULL;
    o.on_event = NULL;
    o.event_user = NULL;
    j->o = o;
    j->state = AP_JOB_QUEUED;
    job_prog_clear(&j->p);
    j->submitted = apx_wall_s();

    pthread_mutex_lock(&r->mu);
    if (r->shutdown || r->nqueued >= r->o.max_queued) {
        pthread_mutex_unlock(&r->mu);
        job_free(j);
        return AP_EBUSY;
    }
    j->id = r->next_id++;
    j->o.job_id = j->id;
    j->linked = 1;
    j->prev = r->tail;
    if (r->tail)
        r->tail->next = j;
    else
        r->head = j;
    r->tail = j;
    r->nqueued++;
    *out = j->id;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->mu);
    return AP_OK;
}

static int jobs_cancel_impl(ap_jobs *r, ap_job_id id)
{
    jjob *j;
    if (!jobs_check(r))
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j) {
        pthread_mutex_unlock(&r->mu);
        return AP_ENOTFOUND;
    }
    ap_cancel(j->cancel);
    if (j->state == AP_JOB_QUEUED)
        job_cancel_queued_locked(r, j, "cancelled before it started");
    pthread_mutex_unlock(&r->mu);
    return AP_OK;
}
static int jobs_list_impl(ap_jobs *r, ap_job_id **ids, size_t *n)
{
    jjob *j;
    size_t k = 0, cnt = 0;
    if (ids)
        *ids = NULL;
    if (n)
        *n = 0;
    if (!jobs_check(r) || !ids || !n)
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    for (j = r->head; j; j = j->next)
        cnt++;
    if (cnt) {
        *ids = apx_calloc(cnt, sizeof **ids);
        if (!*ids) {
            pthread_mutex_unlock(&r->mu);
            return AP_ENOMEM;
        }
        for (j = r->head; j; j = j->next)
            (*ids)[k++] = j->id;
    }
    pthread_mutex_unlock(&r->mu);
    *n = k;
    return AP_OK;
}

static int jobs_forget_impl(ap_jobs *r, ap_job_id id)
{
    jjob *j;
    int rc = AP_OK;
    if (!jobs_check(r))
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j)
        rc = AP_ENOTFOUND;
    else if (!job_ended(j))
        rc = AP_EBUSY;
    else
        job_unlink(r, j);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static int jobs_entry_impl(ap_jobs *r, ap_job_id id, ap_entry **out)
{
    jjob *j;
    char *json = NULL;
    int rc;
    if (out)
        *out = NULL;
    if (!jobs_check(r) || !out)
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j || !j->entry_json)
        rc = AP_ENOTFOUND;
    else
        rc = (json = apx_strdup(j->entry_json)) ? AP_OK : AP_ENOMEM;
    pthread_mutex_unlock(&r->mu);
    if (rc == AP_OK)
        rc = ap_entry_from_json(json, strlen(json), out);
    free(json);
    return rc;
}


/* ---- the error channel ------------------------------------------------------
 * Every ap_jobs_* call that fails leaves a message naming the job (or the
 * reference) and the cause as the calling thread's last error
 * (ap_error_last()): the registry has no errmsg of its own, and a failure
 * inside (ap_provisioner_new(), ap_entry_from_json()) already recorded its
 * detail there, which is kept under the call's context. */

AP_EXPORT int ap_jobs_new(ap_jobs **out, const ap_provisioner_options *popts,
                          const ap_jobs_options *opts)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_new_impl(out, popts, opts);
    return jobs_fail(rc, rc == AP_EINVAL ? "invalid argument (no output pointer, or an "
                 "options struct_size below the minimum)" : NULL,
                 "cannot create the job registry");
}

AP_EXPORT int ap_jobs_submit(ap_jobs *r, const char *ref,
                             const ap_provision_options *opts, ap_job_id *out)
{
    int rc, shutdown = 0;
    unsigned maxq = 0;
    apx_error_tls_reset();
    rc = jobs_submit_impl(r, ref, opts, out);
    if (rc == AP_EBUSY) {
        pthread_mutex_lock(&r->mu);
        shutdown = r->shutdown;
        maxq = r->o.max_queued;
        pthread_mutex_unlock(&r->mu);
    }
    if (rc == AP_EBUSY && shutdown)
        return jobs_fail(rc, "the registry is shutting down", "cannot queue '%s'", ref);
    if (rc == AP_EBUSY)
        return apx_error_set(NULL, rc, "cannot queue '%s': the queue is full (%u jobs "
                             "waiting, max_queued)", ref, maxq);
    return jobs_fail(rc, rc == AP_EINVAL ? "invalid argument (no registry, no output, an "
                 "empty reference or an options struct_size below the minimum)"
                 : jobs_why_id(rc), "cannot queue '%s'", ref && *ref ? ref : "(no reference)");
}

AP_EXPORT int ap_jobs_cancel(ap_jobs *r, ap_job_id id)
{
    apx_error_tls_reset();
    return jobs_fail(jobs_cancel_impl(r, id), NULL, "cannot cancel job %" PRIu64 "%s", id,
                 jobs_check(r) ? ": no such job (never submitted, or forgotten)"
                          : ": not a job registry");
}

AP_EXPORT int ap_jobs_list(ap_jobs *r, ap_job_id **ids, size_t *n)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_list_impl(r, ids, n);
    return jobs_fail(rc, jobs_why_id(rc), "cannot list the jobs");
}

AP_EXPORT int ap_jobs_forget(ap_jobs *r, ap_job_id id)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_forget_impl(r, id);
    return jobs_fail(rc, rc == AP_EBUSY ? "it is still queued or running (cancel it and "
                 "wait for it first)" : jobs_why_id(rc), "cannot forget job %" PRIu64, id);
}

AP_EXPORT int ap_jobs_entry(ap_jobs *r, ap_job_id id, ap_entry **out)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_entry_impl(r, id, out);
    return jobs_fail(rc, rc == AP_ENOTFOUND ? "no such job, or it did not end with an "
                 "entry (not DONE)" : jobs_why_id(rc), "job %" PRIu64 ": no entry", id);
}
