/* libartifactprov — internal: one provision ("pull") of the provisioner,
 * shared by its files: provisioner.c (the public API, and run_pull, which
 * orders the phases resolve, lock, plan, fetch, finish) calls prov_plan.c (filter, match, mark present),
 * prov_fetch.c (engine, vendor downloads, imports, commits) and
 * prov_finish.c (views, entry, publication); all of them use prov_pull.c
 * (the pull's events, cancel checks, messages and locks).  Calls go one way:
 * provisioner.c -> plan, fetch, finish -> pull.  SPDX-License-Identifier: MIT */
#ifndef AP_PROV_PULL_H
#define AP_PROV_PULL_H

#include "prov.h"
#include "engine.h"
#include "session.h"

/* A manifest file the vendor did not list for this request: another file
 * of the catalog entry the pull records into (a repository recorded by a
 * sync or a snapshot, see host_entry()).  It is never fetched; its status
 * in the entry stays what it was.  (Vendor flags never carry this bit: it
 * is cleared after `resolve`.) */
#define APX_MFILE_OTHER 0x80000000u

typedef struct pull {
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
} pull;

/* ---- prov_pull.c ---- */
APX_HIDDEN int apx_pull_check_signature(pull *j, const apx_mfile *m, const char *path, apx_error *err);
APX_HIDDEN int apx_pull_tick(void *user, uint64_t bytes);
APX_HIDDEN int apx_pull_sig_cancelled(void *user);
APX_HIDDEN uint64_t apx_pull_done_now(const pull *j);
APX_HIDDEN void apx_pull_settle_file(pull *j, uint64_t before, uint64_t size, int known);
APX_HIDDEN int apx_pull_sink(const ap_event *ev, void *user);
APX_HIDDEN int apx_pull_fail(pull *j, int status, const char *fmt, ...) AP_PRINTF(3, 4);
APX_HIDDEN int apx_pull_stopped(pull *j);
APX_HIDDEN int apx_pull_lock_waiting(pull *j, const char *name, const char *what, int shared, int *fd);

/* ---- prov_plan.c ---- */
APX_HIDDEN char *apx_plan_verification_of(const apx_mfile *m);
APX_HIDDEN void apx_plan_filter(ap_vendor_call *call, const ap_provision_options *o);
APX_HIDDEN int apx_plan_build_entry(pull *j, ap_vendor_call *call, const char *id, const ap_entry *prev);
APX_HIDDEN int apx_plan_wanted(const pull *j, const apx_mfile *m);
APX_HIDDEN int apx_plan_mark_present(pull *j, const ap_vendor_call *call);
APX_HIDDEN int apx_plan_check_verifiable(pull *j, const ap_vendor_call *call);
APX_HIDDEN int apx_plan_check_manifest(pull *j, const ap_vendor_call *call);
APX_HIDDEN int apx_plan_verifications(pull *j, const ap_vendor_call *call);

/* ---- prov_fetch.c ---- */
APX_HIDDEN int apx_pull_fetch(pull *j, ap_vendor_call *call);
APX_HIDDEN int apx_pull_check_stored_signatures(pull *j, const ap_vendor_call *call);

/* ---- prov_finish.c ---- */
APX_HIDDEN int apx_pull_publish(pull *j, ap_vendor_call *call);
APX_HIDDEN void apx_pull_blob_paths(ap_provisioner *p, ap_entry *e, int force);
APX_HIDDEN void apx_pull_fold_into_repo_entries(pull *j);
/* The end of a pull that ended with `rc`: each file's status, the views,
 * the publication and the entry's document (`prev`: the catalog's entry
 * before the pull, or NULL); returns the pull's status. */
APX_HIDDEN int apx_pull_finish(pull *j, ap_vendor_call *call, ap_entry *prev, int rc);

#endif
