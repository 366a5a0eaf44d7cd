/* libartifactprov — the progress tracker's mutators, for tools and
 * advanced embedders.  SPDX-License-Identifier: MIT
 *
 * STABILITY: the declarations in include/artifactprov/sys/ are NOT part of
 * the stable API.  They may change or disappear in any minor release.  They
 * exist for the tools in this repository (apctl, apd, the tests) and for
 * advanced embedders that accept to follow such changes.  The umbrella
 * header <artifactprov.h> does not include them; include this file by name.
 *
 * What is here: what feeds a tracker (<artifactprov/tracker.h>) -- the
 * expected total, the bytes and files as they arrive, the heartbeat ticks
 * of the loop that drives a job, and events with the tracker's progress.
 * The provisioner drives its own trackers; ordinary programs read progress
 * from the events of ap_provision() and the jobs, and vendors through
 * their host calls.
 */
#ifndef ARTIFACTPROV_SYS_TRACKER_H
#define ARTIFACTPROV_SYS_TRACKER_H

#include "../tracker.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif

#endif
