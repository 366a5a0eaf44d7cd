/* libartifactprov — progress snapshots and the event sink.
 * SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_EVENTS_H
#define ARTIFACTPROV_EVENTS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Identifies one provisioning job.  0 is never a valid job id. */
typedef uint64_t ap_job_id;

/**
 * A progress snapshot.  Byte counts cover the whole artifact; the file_*
 * members cover the file named in `file`, when there is one.  A total of 0
 * means "not known yet".  Strings are borrowed for the duration of the
 * callback.  New members are only ever appended; check struct_size.
 */
typedef struct ap_progress {
    size_t struct_size;
    ap_job_id job_id;
    const char *artifact;     /**< the reference being provisioned */
    const char *file;         /**< current file, or NULL */
    uint64_t bytes_done;      /**< bytes verified or received so far */
    uint64_t bytes_total;     /**< expected total, 0 if unknown */
    uint64_t file_done;
    uint64_t file_total;
    unsigned files_done;
    unsigned files_total;
    double percent;           /**< 0..100, or -1 when the total is unknown */
    double rate;              /**< smoothed bytes per second */
    double eta;               /**< seconds remaining, -1 when unknown */
    double elapsed;           /**< seconds since the job started */
    double idle;              /**< seconds since the last byte arrived */
} ap_progress;

/**
 * A progress callback.  Return 0 to continue; any non-zero value aborts the
 * operation, which then fails with AP_EUSER.
 */
typedef int (*ap_progress_cb)(const ap_progress *progress, void *user);

/** What an event reports. */
typedef enum ap_event_kind {
    AP_EVENT_RESOLVE = 1,   /**< the reference was resolved to files */
    AP_EVENT_START = 2,     /**< transfers begin */
    AP_EVENT_PROGRESS = 3,  /**< bytes arrived (rate-limited) */
    AP_EVENT_HEARTBEAT = 4, /**< periodic liveness, also during stalls */
    AP_EVENT_FILE_DONE = 5, /**< one file verified and stored */
    AP_EVENT_DONE = 6,      /**< the job ended successfully */
    AP_EVENT_ERROR = 7,     /**< the job failed; see status and message */
    AP_EVENT_CANCELLED = 8, /**< the job was cancelled */
    AP_EVENT_RETRY = 9,     /**< a transfer is retried; message says why */
    AP_EVENT_LOG = 10       /**< informational message */
} ap_event_kind;

/** Short lower-case name of an event kind ("progress", "heartbeat", ...). */
AP_EXPORT const char *ap_event_kind_name(ap_event_kind kind);

/**
 * One event.  Every event carries the job id explicitly, whatever thread
 * delivers it.  `progress` is always set and describes the job at the
 * moment of the event.  Strings are borrowed for the callback's duration.
 */
typedef struct ap_event {
    size_t struct_size;
    ap_event_kind kind;
    ap_job_id job_id;
    const char *artifact;        /**< the reference */
    const char *file;            /**< file concerned, or NULL */
    int status;                  /**< ap_status for ERROR/CANCELLED/RETRY */
    const char *message;         /**< human-readable detail, or NULL */
    const ap_progress *progress; /**< never NULL */
} ap_event;

/**
 * An event sink.  Return 0 to continue; non-zero aborts the job (AP_EUSER).
 * Called on the thread running the job, never concurrently for one job.
 */
typedef int (*ap_event_cb)(const ap_event *event, void *user);

#ifdef __cplusplus
}
#endif

#endif
