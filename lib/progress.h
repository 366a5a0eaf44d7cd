/* libartifactprov — internal side of the progress model: the tracker's
 * mutators the library's own code uses, and the thread's activity hook.
 * SPDX-License-Identifier: MIT
 *
 * The activity hook: a job (ap_provision) installs one on the thread that
 * runs it, and every blocking loop of the library on that thread -- the
 * vendors' HTTP calls and their retry waits (apx_http_simple), store
 * imports and copies, hashing -- calls apx_tick() between two blocks.  The
 * hook keeps the job's heartbeat going and checks its cancel token; a
 * non-zero answer (AP_ECANCELLED or AP_EUSER) makes the loop stop with that
 * status.  Without a hook apx_tick() returns 0 at once. */
#ifndef AP_PROGRESS_H
#define AP_PROGRESS_H

#include "internal.h"

/* bytes: bytes the loop just read or wrote (0: time passed only). */
typedef int (*apx_tick_fn)(void *user, uint64_t bytes);

typedef struct apx_tick_hook {
    apx_tick_fn fn;
    void *user;
} apx_tick_hook;

/* Install fn/user on this thread; the previous hook goes into *saved. */
APX_HIDDEN void apx_tick_push(apx_tick_hook *saved, apx_tick_fn fn, void *user);
/* Put back the hook apx_tick_push() saved. */
APX_HIDDEN void apx_tick_pop(const apx_tick_hook *saved);
/* 0 to go on, else the negative ap_status to stop with. */
APX_HIDDEN int apx_tick(uint64_t bytes);
/* 1 when a hook is installed on this thread. */
APX_HIDDEN int apx_tick_active(void);

/* What the job does now ("resolving", "waiting", "importing",
 * "downloading", "verifying", "finishing") and about what (a file, the
 * reference; may be NULL).  Heartbeats say it: "downloading x.gguf, 42 %". */
APX_HIDDEN void apx_tracker_phase(ap_tracker *t, const char *phase,
                                  const char *subject);
/* The sha256 (hex) of the current file (ap_tracker_set_file()), when the
 * caller knows it before the bytes: events and ap_tracker_active_files()
 * carry it. */
APX_HIDDEN void apx_tracker_file_sha256(ap_tracker *t, const char *sha256);
/* A note about the plan of a job, before anything is fetched: several GGUF
 * quantisations among the files still to fetch (lib/plan.c). */
APX_HIDDEN void apx_plan_note(ap_tracker *t, const ap_entry *e, const char *usage);
/* Bytes (and files) already in place: resumed, imported, present in the
 * store.  They count as done, never in the rate nor in fetched_bytes. */
APX_HIDDEN void apx_tracker_present(ap_tracker *t, uint64_t bytes,
                                    unsigned files);
/* Change the totals by signed deltas (a size learnt from the server; bytes
 * received and then discarded by a restart from zero). */
APX_HIDDEN void apx_tracker_adjust(ap_tracker *t, int64_t done_delta,
                                   int64_t total_delta);
/* JSON of events (tracker.c): fill the members ap_event and ap_job_event
 * share into the jansson object `obj` (a json_t *); dump obj (reference
 * taken) into *out, allocated for ap_free(). */
APX_HIDDEN int apx_event_json_fill(void *obj, ap_event_kind kind, ap_job_id job,
                                   ap_log_level level, int status,
                                   const char *file, const char *message,
                                   const ap_progress *p);
APX_HIDDEN int apx_json_dump_out(void *obj, char **out);

#endif
