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
#include "prov.h"
#include "../include/artifactprov/jobs.h"
#include "progress.h"

#include <jansson.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOBS_MAGIC 0x4a4f4253u /* "JOBS" */
#define JOBS_DEAD 0xdeadbeefu

#define DEF_RUNNING 4u
#define DEF_QUEUED 1024u
#define DEF_FINISHED 256u
#define DEF_RING 256u
#define MIN_RING 8u

/* A progress snapshot with its strings owned (v.file and v.phase point
 * to file and phase; v.artifact is the job's ref, set on the way out). */
typedef struct prog {
    ap_progress v;
    char *file, *phase, *sha256;
} prog;

typedef struct ev_rec {
    uint64_t seq;
    ap_event_kind kind;
    ap_log_level level;
    int status;
    int final;
    char *file, *message;
    prog p;
    int64_t time_ms;
} ev_rec;

typedef struct jjob {
    struct jjob *prev, *next;
    ap_jobs *reg;
    ap_job_id id;
    ap_job_state state;
    int status;
    char *ref, *message, *entry_id, *entry_json;
    prog p;
    uint64_t fetched;
    int64_t submitted, started, finished;
    /* The request: options with owned copies of what they point to. */
    ap_provision_options o;
    char **include, **exclude, **vendor_options, **mirrors;
    ap_cancel_token *cancel;
    /* Event ring: slot (seq - 1) % cap holds event seq. */
    ev_rec *ring;
    unsigned cap;
    uint64_t last_seq;
    ev_rec pending;    /* terminal event from the tracker, published last */
    int has_pending;
    pthread_cond_t cv;
    unsigned refs;     /* calls and workers using the job */
    int linked;        /* in the registry's list */
} jjob;

struct ap_jobs {
    uint32_t magic;
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_condattr_t cattr;
    jjob *head, *tail;
    size_t nqueued, nfinished;
    ap_job_id next_id;
    int shutdown;
    ap_jobs_options o;
    ap_provisioner_options po;
    char *home, *vendor_path;
    ap_provisioner **provs;   /* one slot per worker */
    pthread_t *threads;
    size_t nthreads;
};

typedef struct worker_arg {
    ap_jobs *r;
    size_t slot;
} worker_arg;

static int check(const ap_jobs *r)
{
    return r && r->magic == JOBS_MAGIC;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_final_kind(ap_event_kind k)
{
    return k == AP_EVENT_DONE || k == AP_EVENT_ERROR || k == AP_EVENT_CANCELLED;
}

static int ended(const jjob *j)
{
    return j->state >= AP_JOB_DONE;
}

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

/* ---- jobs ---------------------------------------------------------------- */

static void strv_free(char **v)
{
    size_t i;
    for (i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Deep copy of a NULL-terminated string array; *ok = 0 on ENOMEM. */
static char **strv_dup(const char *const *v, int *ok)
{
    size_t n = 0, i;
    char **c;
    if (!v)
        return NULL;
    while (v[n])
        n++;
    c = apx_calloc(n + 1, sizeof *c);
    if (!c) {
        *ok = 0;
        return NULL;
    }
    for (i = 0; i < n; i++)
        if (!(c[i] = apx_strdup(v[i]))) {
            strv_free(c);
            *ok = 0;
            return NULL;
        }
    return c;
}

static void prog_clear(prog *p)
{
    free(p->file);
    free(p->phase);
    free(p->sha256);
    memset(p, 0, sizeof *p);
    p->v.struct_size = sizeof p->v;
    p->v.percent = -1;
    p->v.eta = -1;
}

/* *dst = a copy of src (the members src->struct_size covers); strings
 * copied (an allocation failure loses the string, never the figures). */
static void prog_set(prog *dst, const ap_progress *src)
{
    prog_clear(dst);
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

/* The caller's copy, strings owned by it (artifact: the job's ref). */
static int prog_export(ap_progress *dst, const prog *src, const char *artifact)
{
    *dst = src->v;
    dst->artifact = apx_strdup(artifact);
    dst->file = apx_strdup(src->file);
    dst->phase = apx_strdup(src->phase);
    dst->file_sha256 = apx_strdup(src->sha256);
    if ((artifact && !dst->artifact) || (src->file && !dst->file) ||
        (src->phase && !dst->phase) || (src->sha256 && !dst->file_sha256)) {
        free((char *)dst->artifact);
        free((char *)dst->file);
        free((char *)dst->phase);
        free((char *)dst->file_sha256);
        dst->artifact = dst->file = dst->phase = dst->file_sha256 = NULL;
        return AP_ENOMEM;
    }
    return AP_OK;
}

static void rec_clear(ev_rec *e)
{
    free(e->file);
    free(e->message);
    prog_clear(&e->p);
    memset(e, 0, sizeof *e);
}

static void job_free(jjob *j)
{
    unsigned i;
    if (!j)
        return;
    for (i = 0; j->ring && i < j->cap; i++)
        rec_clear(&j->ring[i]);
    free(j->ring);
    rec_clear(&j->pending);
    free(j->ref);
    free(j->message);
    free(j->entry_id);
    free(j->entry_json);
    prog_clear(&j->p);
    strv_free(j->include);
    strv_free(j->exclude);
    strv_free(j->vendor_options);
    strv_free(j->mirrors);
    ap_cancel_token_free(j->cancel);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Under the lock: drop one reference; free the job once unlinked and unused. */
static void job_unref(jjob *j)
{
    if (--j->refs == 0 && !j->linked)
        job_free(j);
}

/* Under the lock. */
static void job_unlink(ap_jobs *r, jjob *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        r->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        r->tail = j->prev;
    j->prev = j->next = NULL;
    j->linked = 0;
    if (ended(j))
        r->nfinished--;
    /* Wake anyone blocked on it: they find it gone or ended. */
    pthread_cond_broadcast(&j->cv);
    if (j->refs == 0)
        job_free(j);
}

/* Under the lock. */
static jjob *job_find(ap_jobs *r, ap_job_id id)
{
    jjob *j;
    for (j = r->head; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

/* Under the lock: append an event to the ring (strings copied; an
 * allocation failure loses the string, never the event). */
static void push_event(jjob *j, ap_event_kind kind, ap_log_level level, int status,
                       const char *file, const char *message, const prog *p,
                       int final)
{
    uint64_t seq = ++j->last_seq;
    ev_rec *e = &j->ring[(seq - 1) % j->cap];
    rec_clear(e);
    e->seq = seq;
    e->kind = kind;
    e->level = level;
    e->status = status;
    e->final = final;
    e->file = apx_strdup(file);
    e->message = apx_strdup(message);
    prog_set(&e->p, &p->v);
    e->time_ms = wall_ms();
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
        if (ended(j))
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
    rec_clear(&j->pending);
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
    rec_clear(fin);
}

/* Under the lock: end a queued job as cancelled, sink included (the lock
 * is dropped around the sink call). */
static void cancel_queued_locked(ap_jobs *r, jjob *j, const char *why)
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
    if (is_final_kind(ev->kind)) {
        /* Published by finish_locked once the state says the same. */
        rec_clear(&j->pending);
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
static jjob *find_queued(ap_jobs *r)
{
    jjob *j;
    if (!r->nqueued)
        return NULL;
    for (j = r->head; j; j = j->next)
        if (j->state == AP_JOB_QUEUED)
            return j;
    return NULL;
}

static void *worker_main(void *arg)
{
    worker_arg *w = arg;
    ap_jobs *r = w->r;
    ap_provisioner **provp = &r->provs[w->slot];
    jjob *j;

    free(w);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        j = find_queued(r);
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
        if (pthread_create(&r->threads[i], NULL, worker_main, w) != 0) {
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
    if (!check(r))
        return;
    pthread_mutex_lock(&r->mu);
    r->shutdown = 1;
    for (j = r->head; j; j = j->next)
        if (j->state == AP_JOB_RUNNING)
            ap_cancel(j->cancel);
    /* Queued jobs end here, one at a time (the sink runs unlocked). */
    for (;;) {
        if (!(j = find_queued(r)))
            break;
        cancel_queued_locked(r, j, "cancelled before it started (shutdown)");
    }
    pthread_cond_broadcast(&r->work);
    for (j = r->head; j; j = j->next)
        pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&r->mu);
}

AP_EXPORT void ap_jobs_free(ap_jobs *r)
{
    size_t i;
    if (!check(r))
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
    if (!check(r) || !ref || !*ref || !out)
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
    j->include = strv_dup(o.include, &ok);
    j->exclude = strv_dup(o.exclude, &ok);
    j->vendor_options = strv_dup(o.vendor_options, &ok);
    j->mirrors = strv_dup(o.mirrors, &ok);
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
    prog_clear(&j->p);
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
    if (!check(r))
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j) {
        pthread_mutex_unlock(&r->mu);
        return AP_ENOTFOUND;
    }
    ap_cancel(j->cancel);
    if (j->state == AP_JOB_QUEUED)
        cancel_queued_locked(r, j, "cancelled before it started");
    pthread_mutex_unlock(&r->mu);
    return AP_OK;
}

/* Under the lock: a full snapshot with owned strings. */
static int snapshot(const jjob *j, ap_job_info *s)
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
    if (prog_export(&s->progress, &j->p, j->ref) != AP_OK || !s->ref ||
        (j->message && !s->message) || (j->entry_id && !s->entry_id)) {
        ap_job_info_clear(s);
        return AP_ENOMEM;
    }
    s->progress.job_id = j->id;
    if (ended(j))
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
    if (!check(r) || !out || out->struct_size < INFO_MIN_SIZE)
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    rc = j ? snapshot(j, &full) : AP_ENOTFOUND;
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

static int jobs_wait_impl(ap_jobs *r, ap_job_id id, int timeout_ms,
                           ap_job_info *out)
{
    struct timespec dl;
    ap_job_info full;
    jjob *j;
    int rc = AP_OK, snap = AP_OK;

    if (!check(r) || (out && out->struct_size < INFO_MIN_SIZE))
        return AP_EINVAL;
    if (timeout_ms > 0)
        dl = deadline_after(timeout_ms);
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j) {
        pthread_mutex_unlock(&r->mu);
        return AP_ENOTFOUND;
    }
    j->refs++;
    while (!ended(j) && j->linked) {
        if (!wait_on(r, j, timeout_ms, &dl)) {
            rc = ended(j) ? AP_OK : AP_ETIMEDOUT;
            break;
        }
    }
    if (!j->linked && !ended(j))
        rc = AP_ENOTFOUND;
    if (out && rc != AP_ENOTFOUND)
        snap = snapshot(j, &full);
    job_unref(j);
    pthread_mutex_unlock(&r->mu);
    if (out && rc != AP_ENOTFOUND) {
        if (snap != AP_OK)
            return snap;
        info_out(out, &full);
    }
    return rc;
}

static int jobs_list_impl(ap_jobs *r, ap_job_id **ids, size_t *n)
{
    jjob *j;
    size_t k = 0, cnt = 0;
    if (ids)
        *ids = NULL;
    if (n)
        *n = 0;
    if (!check(r) || !ids || !n)
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
    if (!check(r))
        return AP_EINVAL;
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j)
        rc = AP_ENOTFOUND;
    else if (!ended(j))
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
    if (!check(r) || !out)
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

#define EVENT_MIN_SIZE offsetof(ap_job_event, time_ms)

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
    if (!check(r) || !buf || !n || !got || buf[0].struct_size < EVENT_MIN_SIZE)
        return AP_EINVAL;
    stride = buf[0].struct_size;
    if (timeout_ms > 0)
        dl = deadline_after(timeout_ms);
    pthread_mutex_lock(&r->mu);
    j = job_find(r, id);
    if (!j) {
        pthread_mutex_unlock(&r->mu);
        return AP_ENOTFOUND;
    }
    j->refs++;
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
                    prog_export(&full.progress, &e->p, j->ref) != AP_OK) {
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
        if (ended(j) || !j->linked)
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

/* ---- the error channel ------------------------------------------------------
 * Every ap_jobs_* call that fails leaves a message naming the job (or the
 * reference) and the cause as the calling thread's last error
 * (ap_error_last()): the registry has no errmsg of its own, and a failure
 * inside (ap_provisioner_new(), ap_entry_from_json()) already recorded its
 * detail there, which is kept under the call's context. */

/* rc < 0: "<context>: <detail of this call, or why>". */
static int jfail(int rc, const char *why, const char *fmt, ...) AP_PRINTF(3, 4);
static int jfail(int rc, const char *why, const char *fmt, ...)
{
    char ctx[512];
    const ap_error *last = ap_error_last();
    va_list ap;
    if (rc >= 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    if (last->status < 0 && last->message[0])
        return apx_error_set(NULL, rc, "%s: %s", ctx, last->message);
    return apx_error_set(NULL, rc, "%s: %s", ctx, why ? why : ap_strerror(rc));
}

static const char *why_id(int rc)
{
    switch (rc) {
    case AP_EINVAL: return "invalid argument (no registry, no output, or a "
                           "struct_size below the minimum)";
    case AP_ENOTFOUND: return "no such job (never submitted, or forgotten)";
    case AP_ENOMEM: return "out of memory";
    default: return NULL;
    }
}

AP_EXPORT int ap_jobs_new(ap_jobs **out, const ap_provisioner_options *popts,
                          const ap_jobs_options *opts)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_new_impl(out, popts, opts);
    return jfail(rc, rc == AP_EINVAL ? "invalid argument (no output pointer, or an "
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
        return jfail(rc, "the registry is shutting down", "cannot queue '%s'", ref);
    if (rc == AP_EBUSY)
        return apx_error_set(NULL, rc, "cannot queue '%s': the queue is full (%u jobs "
                             "waiting, max_queued)", ref, maxq);
    return jfail(rc, rc == AP_EINVAL ? "invalid argument (no registry, no output, an "
                 "empty reference or an options struct_size below the minimum)"
                 : why_id(rc), "cannot queue '%s'", ref && *ref ? ref : "(no reference)");
}

AP_EXPORT int ap_jobs_cancel(ap_jobs *r, ap_job_id id)
{
    apx_error_tls_reset();
    return jfail(jobs_cancel_impl(r, id), NULL, "cannot cancel job %" PRIu64 "%s", id,
                 check(r) ? ": no such job (never submitted, or forgotten)"
                          : ": not a job registry");
}

AP_EXPORT int ap_jobs_info(ap_jobs *r, ap_job_id id, ap_job_info *out)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_info_impl(r, id, out);
    return jfail(rc, why_id(rc), "job %" PRIu64 ": cannot take a snapshot", id);
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
    return jfail(rc, why_id(rc), "cannot wait for job %" PRIu64, id);
}

AP_EXPORT int ap_jobs_list(ap_jobs *r, ap_job_id **ids, size_t *n)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_list_impl(r, ids, n);
    return jfail(rc, why_id(rc), "cannot list the jobs");
}

AP_EXPORT int ap_jobs_forget(ap_jobs *r, ap_job_id id)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_forget_impl(r, id);
    return jfail(rc, rc == AP_EBUSY ? "it is still queued or running (cancel it and "
                 "wait for it first)" : why_id(rc), "cannot forget job %" PRIu64, id);
}

AP_EXPORT int ap_jobs_entry(ap_jobs *r, ap_job_id id, ap_entry **out)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_entry_impl(r, id, out);
    return jfail(rc, rc == AP_ENOTFOUND ? "no such job, or it did not end with an "
                 "entry (not DONE)" : why_id(rc), "job %" PRIu64 ": no entry", id);
}

AP_EXPORT int ap_jobs_events(ap_jobs *r, ap_job_id id, uint64_t after_seq,
                             int timeout_ms, ap_job_event *buf, size_t n,
                             size_t *got)
{
    int rc;
    apx_error_tls_reset();
    rc = jobs_events_impl(r, id, after_seq, timeout_ms, buf, n, got);
    return jfail(rc, rc == AP_EINVAL ? "invalid argument (no registry, no buffer, "
                 "n == 0, no count, or buf[0].struct_size below the minimum)"
                 : why_id(rc), "job %" PRIu64 ": cannot read its events", id);
}
