/* libartifactprov — one job of the registry as a record: its lookup, its
 * references and its end (free once unlinked and unused), the copies of
 * its progress, and the small helpers every part of the registry uses
 * (lib/jobs.c creates and cancels, lib/job_run.c runs, lib/job_read.c
 * reads; each calls this file, never the other way).
 * SPDX-License-Identifier: MIT */
#include "jobs_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int jobs_check(const ap_jobs *r)
{
    return r && r->magic == JOBS_MAGIC;
}

int64_t jobs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jobs_final_kind(ap_event_kind k)
{
    return k == AP_EVENT_DONE || k == AP_EVENT_ERROR || k == AP_EVENT_CANCELLED;
}

int job_ended(const jjob *j)
{
    return j->state >= AP_JOB_DONE;
}

static void strv_free(char **v)
{
    size_t i;
    for (i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* Deep copy of a NULL-terminated string array; *ok = 0 on ENOMEM. */
char **jobs_strv_dup(const char *const *v, int *ok)
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

void job_prog_clear(prog *p)
{
    free(p->file);
    free(p->phase);
    free(p->sha256);
    memset(p, 0, sizeof *p);
    p->v.struct_size = sizeof p->v;
    p->v.percent = -1;
    p->v.eta = -1;
}

/* The caller's copy, strings owned by it (artifact: the job's ref). */
int job_prog_export(ap_progress *dst, const prog *src, const char *artifact)
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

void job_rec_clear(ev_rec *e)
{
    free(e->file);
    free(e->message);
    job_prog_clear(&e->p);
    memset(e, 0, sizeof *e);
}

void job_free(jjob *j)
{
    unsigned i;
    if (!j)
        return;
    for (i = 0; j->ring && i < j->cap; i++)
        job_rec_clear(&j->ring[i]);
    free(j->ring);
    job_rec_clear(&j->pending);
    free(j->ref);
    free(j->message);
    free(j->entry_id);
    free(j->entry_json);
    job_prog_clear(&j->p);
    strv_free(j->include);
    strv_free(j->exclude);
    strv_free(j->vendor_options);
    strv_free(j->mirrors);
    ap_cancel_token_free(j->cancel);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Under the lock: drop one reference; free the job once unlinked and unused. */
void job_unref(jjob *j)
{
    if (--j->refs == 0 && !j->linked)
        job_free(j);
}

/* Under the lock. */
void job_unlink(ap_jobs *r, jjob *j)
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
    if (job_ended(j))
        r->nfinished--;
    /* Wake anyone blocked on it: they find it gone or ended. */
    pthread_cond_broadcast(&j->cv);
    if (j->refs == 0)
        job_free(j);
}

/* Under the lock. */
jjob *job_find(ap_jobs *r, ap_job_id id)
{
    jjob *j;
    for (j = r->head; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

/* The failure of a public call: `rc` with a message "<ctx>: <the last
 * error, else why, else the status>" in the thread's error.  rc >= 0
 * passes through. */
/* rc < 0: "<context>: <detail of this call, or why>". */
int jobs_fail(int rc, const char *why, const char *fmt, ...)
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

/* What a registry call's common failures mean, or NULL. */
const char *jobs_why_id(int rc)
{
    switch (rc) {
    case AP_EINVAL: return "invalid argument (no registry, no output, or a "
                           "struct_size below the minimum)";
    case AP_ENOTFOUND: return "no such job (never submitted, or forgotten)";
    case AP_ENOMEM: return "out of memory";
    default: return NULL;
    }
}
