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

/**
 * Severity of an event, in its own `level` member (ap_event, ap_job_event).
 * The same values are the levels of a vendor's ap_host.log() (vendor.h).
 */
typedef enum ap_log_level {
    AP_LOG_ERROR = 0, /**< the job failed (ERROR events, vendor errors) */
    AP_LOG_WARN = 1,  /**< something is wrong or degraded, the job goes on:
                           a retry, a local copy not used, stale data, a
                           vendor's warning; also CANCELLED */
    AP_LOG_INFO = 2,  /**< a milestone or a note (RESOLVE, START, FILE_DONE,
                           DONE; "waiting for another download of ...") */
    AP_LOG_DEBUG = 3  /**< high-volume detail (PROGRESS, HEARTBEAT) */
} ap_log_level;

/** "error", "warn", "info", "debug" ("unknown" otherwise). */
AP_EXPORT const char *ap_log_level_name(ap_log_level level);

/** Short lower-case name of an event kind ("progress", "heartbeat", ...). */
AP_EXPORT const char *ap_event_kind_name(ap_event_kind kind);

/**
 * One event.  Every event carries the job id explicitly, whatever thread
 * delivers it.  `progress` is always set and describes the job at the
 * moment of the event.  Strings are borrowed for the callback's duration.
 *
 * Versioning: the library fills struct_size with the size of the struct it
 * built; members are only ever appended.  A caller reads a member added
 * after its oldest supported library only when struct_size covers it:
 * `AP_EVENT_HAS(ev, level)`.
 */
typedef struct ap_event {
    size_t struct_size;
    ap_event_kind kind;
    ap_job_id job_id;
    const char *artifact;        /**< the reference */
    const char *file;            /**< file concerned, or NULL */
    int status;                  /**< ap_status for ERROR/CANCELLED/RETRY; for
                                      LOG the ap_status of what the note is
                                      about (a failure worked around), or
                                      AP_OK -- never the level */
    const char *message;         /**< human-readable detail, or NULL */
    const ap_progress *progress; /**< never NULL */
    /* since 0.2 (check struct_size) */
    ap_log_level level;          /**< LOG: the note's own level (a vendor's
                                      ap_host.log() level, or the library's);
                                      other kinds: ERROR for ERROR, WARN for
                                      RETRY and CANCELLED, DEBUG for PROGRESS
                                      and HEARTBEAT, INFO for the others */
} ap_event;

/** 1 when the event `ev` (a pointer) was built with member `m`. */
#define AP_EVENT_HAS(ev, m) \
    ((ev)->struct_size >= offsetof(ap_event, m) + sizeof((ev)->m))

/**
 * An event sink.  Return 0 to continue; non-zero aborts the job (AP_EUSER).
 * Called on the thread running the job, never concurrently for one job.
 */
typedef int (*ap_event_cb)(const ap_event *event, void *user);

#ifdef __cplusplus
}
#endif

#endif
