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
 * This header is the stable part: the options, creating and freeing a
 * tracker, and reading its progress (ap_tracker_snapshot()).  What feeds
 * it -- totals, bytes, files, ticks and events (ap_tracker_add_total(),
 * ap_tracker_advance(), ap_tracker_tick(), ap_tracker_emit(), ...) -- is
 * an internal of the library, declared in <artifactprov/sys/tracker.h>
 * (not part of the stable API).  A vendor reports progress through its
 * host calls, never through these.
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

/** Take a snapshot of the current progress (out->struct_size is set). */
AP_EXPORT void ap_tracker_snapshot(const ap_tracker *tracker,
                                   ap_progress *out);

/**
 * One file in flight (ap_tracker_active_files()).  Strings are the
 * tracker's: valid until the tracker next changes (read them on the
 * thread that drives it, e.g. in its event sink).  New members are only
 * ever appended; struct_size says which are there.
 */
typedef struct ap_file_progress {
    size_t struct_size;
    const char *file;      /**< the file's name in the artifact */
    const char *sha256;    /**< its sha256 hex when known before the bytes, or NULL */
    uint64_t done;         /**< bytes of it in place */
    uint64_t total;        /**< its size, 0 when not known yet */
} ap_file_progress;

/**
 * The files in flight: those the tracker was told about and that are not
 * done yet, at most 64 (the least recently moved one is forgotten first,
 * so a job of 100,000 files keeps only the active ones).  Copies up to n
 * of them into out (which may be NULL when n is 0) and returns how many are
 * active, which may exceed n.  out[0].struct_size, set by the caller (0:
 * this header's size), is the size of each element.  Since 0.5.
 */
AP_EXPORT size_t ap_tracker_active_files(const ap_tracker *tracker,
                                         ap_file_progress *out, size_t n);

#ifdef __cplusplus
}
#endif

#endif
