/* libartifactprov — the job registry's private parts, shared by its four
 * files: lib/jobs.c (the registry: create, submit, cancel, list, forget,
 * free), lib/job_run.c (the workers and a job's life), lib/job_read.c
 * (snapshots, waits, events) and lib/job.c (a job as a record, the error
 * channel), which the other three call and which calls none of them.
 * SPDX-License-Identifier: MIT */
#ifndef APX_JOBS_INTERNAL_H
#define APX_JOBS_INTERNAL_H

#include "prov.h"
#include "../include/artifactprov/jobs.h"
#include "progress.h"

#include <pthread.h>
#include <stdint.h>

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

/* lib/job.c: a job as a record (the _locked ones and those that walk the
 * list with r->mu held) and the helpers of every part of the registry */
int jobs_check(const ap_jobs *r);
int job_ended(const jjob *j);             /* in a final state */
int64_t jobs_wall_ms(void);
int jobs_final_kind(ap_event_kind k);
jjob *job_find(ap_jobs *r, ap_job_id id);
void job_free(jjob *j);
void job_unlink(ap_jobs *r, jjob *j);
void job_unref(jjob *j);
void job_prog_clear(prog *p);
void job_rec_clear(ev_rec *e);
int job_prog_export(ap_progress *dst, const prog *src, const char *artifact);
char **jobs_strv_dup(const char *const *v, int *ok);
int jobs_fail(int rc, const char *why, const char *fmt, ...) AP_PRINTF(3, 4);
const char *jobs_why_id(int rc);
/* lib/job_run.c: a job's life */
void job_cancel_queued_locked(ap_jobs *r, jjob *j, const char *why);
jjob *jobs_find_queued(ap_jobs *r);
void *jobs_worker_main(void *arg);

#endif
