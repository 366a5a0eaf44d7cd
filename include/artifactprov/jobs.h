/* libartifactprov — the job registry: provisioning requests run in the
 * background, followed, cancelled and waited for by id.
 * SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_JOBS_H
#define ARTIFACTPROV_JOBS_H

#include "common.h"
#include "events.h"
#include "catalog.h"
#include "provisioner.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A job registry.  ap_jobs_submit() queues a provisioning request and
 * returns its job id at once; a pool of worker threads runs the queued jobs
 * in order of submission, at most `max_running` at a time, each worker with
 * its own ap_provisioner (handles are one-thread-at-a-time; every
 * provisioner of the registry shares the same store root).  The same blob
 * requested by two jobs, or by a job and another process, is downloaded
 * once: the provisioner holds the store's per-blob lock while it fetches,
 * and the job that waited finds the blob present.
 *
 * Thread safety: unlike the other handles, a registry may be used from any
 * number of threads at once, except ap_jobs_free(), which must be the last
 * call (no other call may be in progress or start).  Call ap_jobs_shutdown()
 * first when other threads may still be waiting in ap_jobs_wait() or
 * ap_jobs_events(): it ends every job promptly, so those calls return.
 *
 * Job ids are assigned by the registry, start at 1 and are never reused
 * within a registry.
 */
typedef struct ap_jobs ap_jobs;

/** The life of a job: QUEUED -> RUNNING -> DONE | FAILED | CANCELLED.
 *  A job cancelled while queued goes straight to CANCELLED. */
typedef enum ap_job_state {
    AP_JOB_QUEUED = 0,
    AP_JOB_RUNNING = 1,
    AP_JOB_DONE = 2,
    AP_JOB_FAILED = 3,
    AP_JOB_CANCELLED = 4
} ap_job_state;

/** "queued", "running", "done", "failed", "cancelled". */
AP_EXPORT const char *ap_job_state_name(ap_job_state state);

typedef struct ap_jobs_options {
    size_t struct_size;
    unsigned max_running;  /**< worker threads, jobs running at once (0: 4) */
    unsigned max_queued;   /**< jobs waiting to run; beyond it ap_jobs_submit()
                                fails with AP_EBUSY (0: 1024) */
    unsigned max_finished; /**< finished jobs remembered for info, wait and
                                events; the oldest are forgotten (0: 256) */
    unsigned event_ring;   /**< events kept per job (0: 256, at least 8); when
                                more arrive the oldest are dropped, which a
                                reader sees as a gap in the sequence numbers */
    /**
     * Optional sink, called for every event of every job, with the job id
     * in the event.  Called from the worker thread running the job, never
     * concurrently for one job (calls for different jobs may run at the
     * same time).  A job cancelled while still queued has its CANCELLED
     * event delivered from the thread that called ap_jobs_cancel(),
     * ap_jobs_shutdown() or ap_jobs_free().  The final event (DONE, ERROR,
     * CANCELLED) is delivered after ap_jobs_info() reports the final state.
     * Returning non-zero aborts that job (it fails with AP_EUSER).  The sink
     * must not call ap_jobs_free().
     */
    ap_event_cb sink;
    void *sink_user;
    /** Since 0.3: the id of the first job (0: 1).  A program that keeps
     *  the history of an earlier registry (a daemon that restarts) starts
     *  past its ids, so that an id never names two jobs. */
    ap_job_id first_id;
} ap_jobs_options;

#define AP_JOBS_OPTIONS_INIT { sizeof(ap_jobs_options), 0, 0, 0, 0, NULL, NULL, 0 }

/** Fill *opts with the defaults (same as AP_JOBS_OPTIONS_INIT). */
AP_EXPORT void ap_jobs_options_init(ap_jobs_options *opts);

/**
 * Create a registry.  `popts` (may be NULL; copied) configures the
 * provisioner of every worker: one is created at once to check that the
 * store opens, the others as workers need them.  `opts` may be NULL.
 * ap_global_init() must have been called.  Returns AP_OK, AP_EINVAL,
 * AP_ENOMEM, or the error of ap_provisioner_new().
 */
AP_EXPORT int ap_jobs_new(ap_jobs **out, const ap_provisioner_options *popts,
                          const ap_jobs_options *opts);

/**
 * Stop the registry: refuse new submissions (AP_EBUSY), cancel queued and
 * running jobs, and wake every waiter.  Returns at once; running jobs end
 * promptly.  Idempotent; safe from any thread (not from a signal handler).
 */
AP_EXPORT void ap_jobs_shutdown(ap_jobs *jobs);

/**
 * Shut down (as ap_jobs_shutdown()), join every worker thread and free
 * everything.  Must be the last call on the registry.  NULL is fine.
 */
AP_EXPORT void ap_jobs_free(ap_jobs *jobs);

/**
 * Queue a provisioning request for `ref` (copied) and store its id in *out.
 * `opts` (may be NULL) is copied, include/exclude globs and
 * vendor_options deeply.  Its `cancel`, `on_event`, `event_user` and
 * `job_id` members are ignored: the registry owns a cancel token per job
 * (see ap_jobs_cancel()), assigns the id, and delivers events through the
 * registry's sink and ap_jobs_events().  Returns AP_OK, AP_EINVAL,
 * AP_ENOMEM, or AP_EBUSY when the queue is full or the registry is
 * shutting down.  The reference itself is checked when the job runs: a bad
 * one makes the job FAILED with a message.
 */
AP_EXPORT int ap_jobs_submit(ap_jobs *jobs, const char *ref,
                             const ap_provision_options *opts, ap_job_id *out);

/**
 * Cancel a job.  A queued job becomes CANCELLED at once; a running one
 * ends with AP_ECANCELLED promptly (its token is triggered, which wakes the
 * engine).  Cancelling a finished job changes nothing.  Returns AP_OK or
 * AP_ENOTFOUND (unknown or forgotten id).
 */
AP_EXPORT int ap_jobs_cancel(ap_jobs *jobs, ap_job_id id);

/**
 * A snapshot of a job.  Set struct_size (AP_JOB_INFO_INIT) before the call;
 * the library fills the members the size covers.  The strings, those of
 * `progress` included, are owned by the snapshot: release them with
 * ap_job_info_clear().
 *
 * `progress` is the job's tracker snapshot as of its latest event, the same
 * ap_progress a direct ap_provision() caller's events carry (events.h):
 * once DONE, progress.bytes_done == progress.bytes_total (what was already
 * in the store, resumed or imported counts), and progress.fetched_bytes
 * says what was transferred.  It is the last member: ap_progress may grow
 * (its own struct_size says how much of it was filled); ap_job_info gains
 * no member after it.
 */
typedef struct ap_job_info {
    size_t struct_size;
    ap_job_id id;
    ap_job_state state;
    int status;            /**< AP_OK, or the failure once FAILED/CANCELLED */
    char *ref;             /**< the reference submitted */
    char *message;         /**< detailed error of a FAILED or CANCELLED job,
                                else NULL */
    char *entry_id;        /**< catalog entry id once DONE, else NULL */
    uint64_t last_seq;     /**< sequence number of the latest event, 0 if none */
    int64_t submitted;     /**< Unix seconds */
    int64_t started;       /**< Unix seconds, 0 while queued */
    int64_t finished;      /**< Unix seconds, 0 until the job ends */
    /** The job's progress (strings owned: artifact, file, phase). rate is
     *  0 once the job ended. */
    ap_progress progress;
} ap_job_info;

#define AP_JOB_INFO_INIT { sizeof(ap_job_info), 0, AP_JOB_QUEUED, 0, NULL, \
    NULL, NULL, 0, 0, 0, 0, { sizeof(ap_progress), 0, NULL, NULL, 0, 0, 0, \
    0, 0, 0, -1.0, 0.0, -1.0, 0.0, 0.0, 0, NULL, NULL } }

/** Free the strings of a snapshot and set them to NULL.  NULL is fine. */
AP_EXPORT void ap_job_info_clear(ap_job_info *info);

/**
 * Snapshot of job `id` into *out (out->struct_size must be set).  Returns
 * AP_OK, AP_EINVAL, AP_ENOMEM or AP_ENOTFOUND.
 */
AP_EXPORT int ap_jobs_info(ap_jobs *jobs, ap_job_id id, ap_job_info *out);

/**
 * Wait until job `id` has ended (DONE, FAILED or CANCELLED), at most
 * `timeout_ms` milliseconds (negative: no limit; 0: just look).  Returns
 * AP_OK once it has ended, AP_ETIMEDOUT when it is still queued or running
 * at the timeout, AP_ENOTFOUND for an unknown id.  `out` may be NULL; when
 * given (struct_size set) it receives the snapshot, also on AP_ETIMEDOUT.  The
 * return value says whether the job ended, not whether it succeeded: see
 * out->state and out->status.
 */
AP_EXPORT int ap_jobs_wait(ap_jobs *jobs, ap_job_id id, int timeout_ms,
                           ap_job_info *out);

/**
 * The ids of the jobs the registry remembers (queued, running, and the
 * most recent finished ones), in increasing order.  *ids is freed with
 * ap_free (NULL when *n is 0).
 */
AP_EXPORT int ap_jobs_list(ap_jobs *jobs, ap_job_id **ids, size_t *n);

/**
 * Forget a finished job (its events and entry).  AP_EBUSY while it is
 * queued or running, AP_ENOTFOUND for an unknown id.
 */
AP_EXPORT int ap_jobs_forget(ap_jobs *jobs, ap_job_id id);

/**
 * The catalog entry a DONE job produced, as it was when the job ended
 * (a copy: free with ap_entry_free).  AP_ENOTFOUND when the id is unknown
 * or the job did not end with an entry.
 */
AP_EXPORT int ap_jobs_entry(ap_jobs *jobs, ap_job_id id, ap_entry **out);

/**
 * One recorded event of a job: the ap_event the job emitted, with its
 * progress copied by value and its strings copied.  Strings (those of
 * `progress` included) are owned by the event: release them with
 * ap_job_events_clear().  `progress` is the last member (see ap_job_info).
 */
typedef struct ap_job_event {
    size_t struct_size;
    uint64_t seq;          /**< 1, 2, 3, ... per job, in emission order */
    ap_job_id job_id;
    ap_event_kind kind;
    ap_log_level level;    /**< as ap_event.level: a LOG event's own level;
                                the kind's default level for the others */
    int status;            /**< ap_status for ERROR, CANCELLED, RETRY */
    int final;             /**< 1 on the job's last event (DONE, ERROR or
                                CANCELLED), 0 otherwise */
    char *file;            /**< file concerned, or NULL */
    char *message;         /**< detail, or NULL */
    int64_t time_ms;       /**< Unix time of the event, in milliseconds */
    ap_progress progress;  /**< the job at the moment of the event */
} ap_job_event;

#define AP_JOB_EVENT_INIT { sizeof(ap_job_event), 0, 0, AP_EVENT_LOG, \
    AP_LOG_INFO, 0, 0, NULL, NULL, 0, { sizeof(ap_progress), 0, NULL, NULL, \
    0, 0, 0, 0, 0, 0, -1.0, 0.0, -1.0, 0.0, 0.0, 0, NULL, NULL } }

/**
 * A job event as one line of JSON: the members of ap_event_to_json()
 * (events.h) plus "seq", "final" and "time_ms".  *out is freed with
 * ap_free().  Returns AP_OK, AP_EINVAL or AP_ENOMEM.
 */
AP_EXPORT int ap_job_event_to_json(const ap_job_event *event, char **out);

/**
 * Read the events of job `id` that come after sequence number `after_seq`
 * (0: from the first one kept), waiting at most `timeout_ms` (negative: no
 * limit; 0: just look) for one to arrive.  Up to `n` events are copied
 * into `buf`, oldest first, and their count stored in *got.
 *
 * buf[0].struct_size must be set (AP_JOB_EVENT_INIT or sizeof): it is the
 * size of every element of `buf` and the library fills that much of each.
 *
 * Returns AP_OK with *got > 0 when events were copied, and AP_OK with
 * *got == 0 when the timeout passed, or at once when the job has ended and
 * `after_seq` is at or past its final event (the one with `final` set).
 * Returns AP_ENOTFOUND for an unknown or forgotten id, AP_EINVAL for bad
 * arguments, AP_ENOMEM.  Events dropped from the ring (see
 * ap_jobs_options.event_ring) show as a jump in `seq`.  Heartbeats keep
 * coming while a transfer stalls, so a follower with a timeout a few times
 * the heartbeat interval sees a sign of life in every wait.
 */
AP_EXPORT int ap_jobs_events(ap_jobs *jobs, ap_job_id id, uint64_t after_seq,
                             int timeout_ms, ap_job_event *buf, size_t n,
                             size_t *got);

/** Free the strings of n events filled by ap_jobs_events() (stride
 *  buf[0].struct_size).  NULL is fine. */
AP_EXPORT void ap_job_events_clear(ap_job_event *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
