/* libartifactprov — internal: one provision ("job") of the provisioner,
 * shared by its files: provisioner.c (the public API, and run_job, which
 * orders the phases resolve, lock, plan, fetch, finish) calls prov_plan.c (filter, match, mark present),
 * prov_fetch.c (engine, vendor downloads, imports, commits) and
 * prov_finish.c (views, entry, publication); all of them use prov_job.c
 * (the job's events, cancel checks, messages and locks).  Calls go one way:
 * provisioner.c -> plan, fetch, finish -> job.  SPDX-License-Identifier: MIT */
#ifndef AP_PROV_JOB_H
#define AP_PROV_JOB_H

#include "prov.h"
#include "engine.h"
#include "session.h"

/* A manifest file the vendor did not list for this request: another file
 * of the catalog entry the job records into (a repository recorded by a
 * sync or a snapshot, see host_entry()).  It is never fetched; its status
 * in the entry stays what it was.  (Vendor flags never carry this bit: it
 * is cleared after `resolve`.) */
#define APX_MFILE_OTHER 0x80000000u

typedef struct job {
    ap_provisioner *prov;
    const ap_provision_options *o;
    const char *ref;
    ap_tracker *tracker;
    ap_entry *entry;
    uint64_t last_put_ms;
    uint64_t put_cost_ms;   /* how long the last progress document took */
    int keep;         /* re-pull of a ready entry: its document stays until
                         a complete set replaces it */
    int count_io;     /* the bytes the thread's blocking loops report are
                         the artifact's (an import), not a re-read (hashing) */
    uint64_t io_counted; /* bytes counted so while count_io */
    unsigned char *sig_ok; /* per entry file: its signature was checked */
    apx_session *fetch;    /* the engine's mirrors and connections, kept
                              across batches (lib/session.h) */
} job;

/* ---- prov_job.c ---- */
APX_HIDDEN int apx_job_check_signature(job *j, const apx_mfile *m, const char *path, apx_error *err);
APX_HIDDEN int apx_job_tick(void *user, uint64_t bytes);
APX_HIDDEN int apx_job_sig_cancelled(void *user);
APX_HIDDEN uint64_t apx_job_done_now(const job *j);
APX_HIDDEN void apx_job_settle_file(job *j, uint64_t before, uint64_t size, int known);
APX_HIDDEN int apx_job_sink(const ap_event *ev, void *user);
APX_HIDDEN int apx_job_fail(job *j, int status, const char *fmt, ...) AP_PRINTF(3, 4);
APX_HIDDEN int apx_job_stopped(job *j);
APX_HIDDEN int apx_job_lock_waiting(job *j, const char *name, const char *what, int shared, int *fd);

/* ---- prov_plan.c ---- */
APX_HIDDEN char *apx_plan_verification_of(const apx_mfile *m);
APX_HIDDEN void apx_plan_filter(ap_vendor_call *call, const ap_provision_options *o);
APX_HIDDEN int apx_plan_build_entry(job *j, ap_vendor_call *call, const char *id, const ap_entry *prev);
APX_HIDDEN int apx_plan_wanted(const job *j, const apx_mfile *m);
APX_HIDDEN int apx_plan_mark_present(job *j, const ap_vendor_call *call);
APX_HIDDEN int apx_plan_check_verifiable(job *j, const ap_vendor_call *call);
APX_HIDDEN int apx_plan_check_manifest(job *j, const ap_vendor_call *call);
APX_HIDDEN int apx_plan_verifications(job *j, const ap_vendor_call *call);

/* ---- prov_fetch.c ---- */
APX_HIDDEN int apx_job_fetch(job *j, ap_vendor_call *call);
APX_HIDDEN int apx_job_check_stored_signatures(job *j, const ap_vendor_call *call);

/* ---- prov_finish.c ---- */
APX_HIDDEN int apx_job_publish(job *j, ap_vendor_call *call);
APX_HIDDEN void apx_job_blob_paths(ap_provisioner *p, ap_entry *e, int force);
APX_HIDDEN void apx_job_fold_into_repo_entries(job *j);
/* The end of a job that ended with `rc`: each file's status, the views,
 * the publication and the entry's document (`prev`: the catalog's entry
 * before the job, or NULL); returns the job's status. */
APX_HIDDEN int apx_job_finish(job *j, ap_vendor_call *call, ap_entry *prev, int rc);

#endif
