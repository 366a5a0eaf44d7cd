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
 * A progress snapshot: the one progress model of the library.  The tracker
 * of a job makes it; events (ap_event.progress), job snapshots
 * (ap_job_info.progress) and job events (ap_job_event.progress) carry it.
 *
 * Byte counts cover the whole artifact: bytes_total is the size of every
 * file the job provides (a file whose size the vendor did not know is
 * added when the server announces it, by Content-Length or Content-Range),
 * and bytes_done counts what is in place -- bytes received, bytes resumed
 * from an earlier attempt, files imported from a local copy or a foreign
 * cache, blobs already in the store.  So a job that succeeds ends with
 * bytes_done == bytes_total and percent 100; fetched_bytes says what was
 * actually transferred.  The file_* members cover the file named in
 * `file`, when there is one: in a PROGRESS or FILE_DONE event the file the
 * event is about (each file in flight has its own PROGRESS events, rate-
 * limited per file, so files downloading in parallel all show), elsewhere
 * the file that moved last.  A total of 0 means "not known yet".
 * file_sha256 is that file's sha256 (64 lower-case hex digits) when it was
 * known before the download (a registry layer, an LFS file), else NULL.
 *
 * `phase` says what the job is doing: "resolving", "waiting" (for a lock
 * another job or process holds), "importing", "downloading", "verifying",
 * "preparing" (between those), "finishing"; NULL before the job started.
 *
 * Strings are borrowed for the duration of the callback (in ap_job_info
 * and ap_job_event they are owned by that struct).  New members are only
 * ever appended; check struct_size.
 */
typedef struct ap_progress {
    size_t struct_size;
    ap_job_id job_id;
    const char *artifact;     /**< the reference being provisioned */
    const char *file;         /**< current file, or NULL */
    uint64_t bytes_done;      /**< bytes in place (see above) */
    uint64_t bytes_total;     /**< expected total, 0 if unknown */
    uint64_t file_done;
    uint64_t file_total;
    unsigned files_done;      /**< files in place (fetched, imported, present) */
    unsigned files_total;
    double percent;           /**< 0..100, or -1 when the total is unknown */
    double rate;              /**< smoothed bytes per second (transfers only) */
    double eta;               /**< seconds remaining, -1 when unknown */
    double elapsed;           /**< seconds since the job started */
    double idle;              /**< seconds since the last byte arrived */
    uint64_t fetched_bytes;   /**< bytes actually transferred by this job */
    const char *phase;        /**< what the job is doing, or NULL (above) */
    /* since 0.5 (check struct_size: AP_PROGRESS_HAS) */
    const char *file_sha256;  /**< sha256 hex of `file` when known, or NULL */
} ap_progress;

/** 1 when the progress `p` (a pointer, may be NULL) was built with member m. */
#define AP_PROGRESS_HAS(p, m) \
    ((p) && (p)->struct_size >= offsetof(ap_progress, m) + sizeof((p)->m))

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

/**
 * The event as one line of JSON (no newline), the format apctl --events
 * and apd's event streams print (docs/daemon.md "Event JSON"):
 *
 *   {"event":"progress","job":3,"level":"debug","status":0,
 *    "artifact":"x:org/repo","file":"x.gguf","message":null,
 *    "phase":"downloading","bytes_done":1024,"bytes_total":4096,
 *    "file_done":1024,"file_total":4096,"files_done":0,"files_total":1,
 *    "percent":25.0,"rate":512.0,"eta":6.0,"elapsed":2.0,"idle":0.0,
 *    "fetched_bytes":1024,"file_sha256":null}
 *
 * percent and eta are null when unknown; strings are null when absent.
 * URLs in the message are shown without credentials.  *out is freed with
 * ap_free().  Returns AP_OK, AP_EINVAL or AP_ENOMEM.
 */
AP_EXPORT int ap_event_to_json(const ap_event *event, char **out);

#ifdef __cplusplus
}
#endif

#endif
