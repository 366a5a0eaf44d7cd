/* libartifactprov — progress tracker with heartbeat.
 * SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_TRACKER_H
#define ARTIFACTPROV_TRACKER_H

#include "common.h"
#include "events.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A tracker aggregates the bytes of one job, computes a smoothed rate and
 * an ETA, and turns them into events for a sink: PROGRESS events at most
 * every `progress_interval_ms`, HEARTBEAT events whenever nothing else was
 * emitted for `heartbeat_ms` (also while no byte arrives).  It spawns no
 * thread: the code driving the job calls ap_tracker_tick() from its loop,
 * so every event carries the job id of the tracker that made it.
 *
 * Vendors and embedders can use a tracker for their own transfers.
 */
typedef struct ap_tracker ap_tracker;

/** Monotonic clock in milliseconds; replaceable for deterministic tests. */
typedef uint64_t (*ap_clock_fn)(void *user);

typedef struct ap_tracker_options {
    size_t struct_size;
    unsigned heartbeat_ms;         /**< 0 = default 1000; heartbeat period */
    unsigned progress_interval_ms; /**< 0 = default 100 */
    double rate_window_s;          /**< 0 = default 3.0: smoothing constant */
    ap_event_cb sink;              /**< may be NULL */
    void *sink_user;
    ap_clock_fn clock;             /**< NULL = CLOCK_MONOTONIC */
    void *clock_user;
} ap_tracker_options;

#define AP_TRACKER_OPTIONS_INIT { sizeof(ap_tracker_options), 0, 0, 0.0, \
                                  NULL, NULL, NULL, NULL }

/** Fill *opts with the defaults (same as AP_TRACKER_OPTIONS_INIT). */
AP_EXPORT void ap_tracker_options_init(ap_tracker_options *opts);

/**
 * Create a tracker for job `job_id` provisioning `artifact` (copied).
 * opts may be NULL.  Returns AP_OK, AP_EINVAL or AP_ENOMEM.
 */
AP_EXPORT int ap_tracker_new(ap_tracker **out, ap_job_id job_id,
                             const char *artifact,
                             const ap_tracker_options *opts);

AP_EXPORT void ap_tracker_free(ap_tracker *tracker);

/** Add `bytes` to the expected total and `files` to the file count. */
AP_EXPORT void ap_tracker_add_total(ap_tracker *tracker, uint64_t bytes,
                                    unsigned files);

/** Set the file named in subsequent events and its own progress. */
AP_EXPORT void ap_tracker_set_file(ap_tracker *tracker, const char *file,
                                   uint64_t file_done, uint64_t file_total);

/**
 * Account for `delta` new bytes (of the current file).  May emit a PROGRESS
 * event.  Returns 0, or AP_EUSER when the sink asked to abort.
 */
AP_EXPORT int ap_tracker_advance(ap_tracker *tracker, uint64_t delta);

/** Mark one file complete; emits FILE_DONE.  Returns 0 or AP_EUSER. */
AP_EXPORT int ap_tracker_file_done(ap_tracker *tracker, const char *file);

/**
 * Let time pass: emits a HEARTBEAT when nothing was emitted for the
 * heartbeat interval.  Returns 0 or AP_EUSER.  Call it from the loop that
 * drives the job, at least every heartbeat interval.
 */
AP_EXPORT int ap_tracker_tick(ap_tracker *tracker);

/** Milliseconds until the next heartbeat is due (for poll timeouts). */
AP_EXPORT unsigned ap_tracker_next_due_ms(const ap_tracker *tracker);

/**
 * Emit an event of any kind with the tracker's current progress, at the
 * default level of its kind (see ap_event.level).  `file` and `message`
 * may be NULL.  Returns 0 or AP_EUSER.
 */
AP_EXPORT int ap_tracker_emit(ap_tracker *tracker, ap_event_kind kind,
                              const char *file, int status,
                              const char *message);

/**
 * Emit a LOG event at `level` (its `level` member), with the tracker's
 * current progress.  `status` is the ap_status the note is about (a
 * failure worked around) or AP_OK.  `file` and `message` may be NULL.
 * Returns 0 or AP_EUSER.  (ap_tracker_emit() gives every event the default
 * level of its kind: INFO for LOG.)
 */
AP_EXPORT int ap_tracker_log(ap_tracker *tracker, ap_log_level level,
                             const char *file, int status,
                             const char *message);

/** Take a snapshot of the current progress (out->struct_size is set). */
AP_EXPORT void ap_tracker_snapshot(const ap_tracker *tracker,
                                   ap_progress *out);

#ifdef __cplusplus
}
#endif

#endif
