/* libartifactprov — progress tracker with heartbeat.
 * SPDX-License-Identifier: MIT
 *
 * Rate: an exponentially weighted moving average of instantaneous rates,
 * with time constant rate_window_s, so a burst does not swing the ETA.
 * Heartbeat: due when no event was emitted for heartbeat_ms; driven by the
 * caller's loop through ap_tracker_tick(), never by a thread of its own,
 * so the job id always travels with the event.
 * Files: the tracker keeps the state of each active file (name, digest,
 * done, total) from ap_tracker_set_file() until ap_tracker_file_done(), at
 * most TRACKER_MAX_ACTIVE of them (the least recently moved one goes
 * first), so a 100,000-file job holds only the files in flight plus the
 * totals.  PROGRESS events are per file, each with its own rate limit, so
 * files that download in parallel all show. */
#include "internal.h"
#include "progress.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Files in flight are at most the engine's connections; a cap keeps a
 * job whose files never end (failed ones) bounded all the same. */
#define TRACKER_MAX_ACTIVE 64

typedef struct tfile {
    char *name;
    char *sha256;               /* hex, or NULL when not known */
    uint64_t done, total;
    uint64_t last_progress_ms;  /* this file's last PROGRESS event */
    uint64_t touched_ms;        /* for the eviction of the oldest */
} tfile;

struct ap_tracker {
    ap_tracker_options o;
    ap_job_id job_id;
    char *artifact;
    tfile files[TRACKER_MAX_ACTIVE];
    unsigned nfiles;
    int cur;                    /* index of the current file, or -1 */
    uint64_t done, total;
    uint64_t fetched;           /* bytes received (advance) */
    char *phase, *subject;
    unsigned files_done, files_total;
    uint64_t start_ms;
    uint64_t last_emit_ms;      /* any event */
    uint64_t last_progress_ms;  /* PROGRESS event */
    uint64_t last_byte_ms;
    uint64_t rate_ms;           /* last rate sample time */
    uint64_t rate_bytes;        /* bytes since last sample */
    double rate;
    int rate_valid;
};

static void drop_file(ap_tracker *t, unsigned i);

static uint64_t mono_ms(void *user)
{
    (void)user;
    return apx_now_ms();
}

static uint64_t now(const ap_tracker *t)
{
    return t->o.clock(t->o.clock_user);
}

AP_EXPORT void ap_tracker_options_init(ap_tracker_options *opts)
{
    ap_tracker_options d = AP_TRACKER_OPTIONS_INIT;
    if (opts)
        *opts = d;
}

AP_EXPORT int ap_tracker_new(ap_tracker **out, ap_job_id job_id,
                             const char *artifact,
                             const ap_tracker_options *opts)
{
    ap_tracker *t;
    if (!out)
        return apx_error_set(NULL, AP_EINVAL, "ap_tracker_new: no output pointer");
    *out = NULL;
    t = apx_calloc(1, sizeof *t);
    if (!t)
        return apx_error_set(NULL, AP_ENOMEM, "tracker for job %llu: out of memory",
                             (unsigned long long)job_id);
    ap_tracker_options_init(&t->o);
    if (opts) {
        size_t n = opts->struct_size < sizeof t->o ? opts->struct_size
                                                   : sizeof t->o;
        if (n < offsetof(ap_tracker_options, sink)) {
            free(t);
            return apx_error_set(NULL, AP_EINVAL, "ap_tracker_new: options "
                                 "struct_size %zu is too small", opts->struct_size);
        }
        memcpy(&t->o, opts, n);
        t->o.struct_size = sizeof t->o;
    }
    if (!t->o.heartbeat_ms)
        t->o.heartbeat_ms = 1000;
    if (!t->o.progress_interval_ms)
        t->o.progress_interval_ms = 100;
    if (!(t->o.rate_window_s > 0.0))
        t->o.rate_window_s = 3.0;
    if (!t->o.clock)
        t->o.clock = mono_ms;
    t->job_id = job_id;
    t->artifact = apx_strdup(artifact ? artifact : "");
    if (!t->artifact) {
        free(t);
        return apx_error_set(NULL, AP_ENOMEM, "tracker for job %llu: out of memory",
                             (unsigned long long)job_id);
    }
    t->cur = -1;
    t->start_ms = now(t);
    t->last_emit_ms = t->start_ms;
    t->last_byte_ms = t->start_ms;
    t->rate_ms = t->start_ms;
    *out = t;
    return AP_OK;
}

AP_EXPORT void ap_tracker_free(ap_tracker *t)
{
    if (!t)
        return;
    free(t->artifact);
    while (t->nfiles)
        drop_file(t, t->nfiles - 1);
    free(t->phase);
    free(t->subject);
    free(t);
}

AP_EXPORT void ap_tracker_add_total(ap_tracker *t, uint64_t bytes,
                                    unsigned files)
{
    if (!t)
        return;
    t->total += bytes;
    t->files_total += files;
}

static int find_file(const ap_tracker *t, const char *name)
{
    unsigned i;
    for (i = 0; name && i < t->nfiles; i++)
        if (!strcmp(t->files[i].name, name))
            return (int)i;
    return -1;
}

/* Forget file i (the last one takes its slot). */
static void drop_file(ap_tracker *t, unsigned i)
{
    free(t->files[i].name);
    free(t->files[i].sha256);
    t->nfiles--;
    if (i != t->nfiles)
        t->files[i] = t->files[t->nfiles];
    memset(&t->files[t->nfiles], 0, sizeof t->files[0]);
    if (t->cur == (int)i)
        t->cur = -1;
    else if (t->cur == (int)t->nfiles)
        t->cur = (int)i;
}

/* The slot of `name`, made when it has none (evicting the file moved
 * least recently when they are all taken); -1 when out of memory. */
static int file_slot(ap_tracker *t, const char *name)
{
    int i = find_file(t, name);
    unsigned k, old = 0;
    char *c;
    if (i >= 0)
        return i;
    if (!(c = apx_strdup(name)))
        return -1;
    if (t->nfiles == TRACKER_MAX_ACTIVE) {
        for (k = 1; k < t->nfiles; k++)
            if (t->files[k].touched_ms < t->files[old].touched_ms)
                old = k;
        drop_file(t, old);
    }
    t->files[t->nfiles].name = c;
    t->files[t->nfiles].touched_ms = now(t);
    return (int)t->nfiles++;
}

AP_EXPORT void ap_tracker_set_file(ap_tracker *t, const char *file,
                                   uint64_t file_done, uint64_t file_total)
{
    int i;
    if (!t)
        return;
    if (!file) {
        t->cur = -1;
        return;
    }
    if ((i = file_slot(t, file)) < 0)
        return; /* keep the old state rather than fail */
    t->files[i].done = file_done;
    t->files[i].total = file_total;
    t->files[i].touched_ms = now(t);
    t->cur = i;
}

void apx_tracker_file_sha256(ap_tracker *t, const char *sha256)
{
    tfile *f;
    char *c;
    if (!t || t->cur < 0)
        return;
    f = &t->files[t->cur];
    if (sha256 == f->sha256 || (sha256 && f->sha256 && !strcmp(sha256, f->sha256)))
        return;
    c = apx_strdup(sha256);
    if (sha256 && !c)
        return;
    free(f->sha256);
    f->sha256 = c;
}

AP_EXPORT size_t ap_tracker_active_files(const ap_tracker *t, ap_file_progress *out,
                                         size_t n)
{
    /* the caller's struct may be an older, smaller one: its size is the
     * array's stride */
    size_t i, sz;
    if (!t)
        return 0;
    sz = out && n && out->struct_size && out->struct_size < sizeof *out
             ? out->struct_size : sizeof *out;
    for (i = 0; out && i < n && i < t->nfiles; i++) {
        ap_file_progress v;
        v.struct_size = sz;
        v.file = t->files[i].name;
        v.sha256 = t->files[i].sha256;
        v.done = t->files[i].done;
        v.total = t->files[i].total;
        memcpy((char *)out + i * sz, &v, sz);
    }
    return t->nfiles;
}

/* Fold the bytes since the last sample into the moving average. */
static void update_rate(ap_tracker *t, uint64_t ms)
{
    uint64_t dt = ms - t->rate_ms;
    double inst, alpha;
    if (dt < 200)
        return;
    inst = (double)t->rate_bytes * 1000.0 / (double)dt;
    if (!t->rate_valid) {
        t->rate = inst;
        t->rate_valid = 1;
    } else {
        alpha = 1.0 - exp(-((double)dt / 1000.0) / t->o.rate_window_s);
        t->rate += alpha * (inst - t->rate);
    }
    t->rate_ms = ms;
    t->rate_bytes = 0;
}

/* The snapshot with the file members about file f (may be NULL). */
static void snapshot_of(const ap_tracker *t, const tfile *f, ap_progress *p)
{
    uint64_t ms;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    if (!t)
        return;
    ms = now(t);
    p->job_id = t->job_id;
    p->artifact = t->artifact;
    p->file = f ? f->name : NULL;
    p->file_sha256 = f ? f->sha256 : NULL;
    p->bytes_done = t->done;
    p->bytes_total = t->total;
    p->file_done = f ? f->done : 0;
    p->file_total = f ? f->total : 0;
    p->files_done = t->files_done;
    p->files_total = t->files_total;
    p->percent = t->total ? 100.0 * (double)t->done / (double)t->total : -1.0;
    if (p->percent > 100.0)
        p->percent = 100.0;
    p->rate = t->rate_valid ? t->rate : 0.0;
    if (t->total && t->done >= t->total)
        p->eta = 0.0;
    else if (t->total && p->rate > 1.0)
        p->eta = (double)(t->total - t->done) / p->rate;
    else
        p->eta = -1.0;
    p->elapsed = (double)(ms - t->start_ms) / 1000.0;
    p->idle = (double)(ms - t->last_byte_ms) / 1000.0;
    p->fetched_bytes = t->fetched;
    p->phase = t->phase;
}

AP_EXPORT void ap_tracker_snapshot(const ap_tracker *t, ap_progress *p)
{
    snapshot_of(t, t && t->cur >= 0 ? &t->files[t->cur] : NULL, p);
}

/* The sink asked to abort: AP_EUSER, with the thread's last error. */
static int aborted(const ap_tracker *t, ap_event_kind kind)
{
    return apx_error_set(NULL, AP_EUSER, "%s (job %llu): the event sink asked to "
                         "abort (at a %s event)", t->artifact,
                         (unsigned long long)t->job_id, ap_event_kind_name(kind));
}

/* An event; its progress describes file f (NULL: the current file). */
static int emit_at(ap_tracker *t, ap_event_kind kind, ap_log_level level,
                   const tfile *f, const char *file, int status,
                   const char *message, uint64_t ms)
{
    ap_progress p;
    ap_event ev;
    t->last_emit_ms = ms;
    if (!t->o.sink)
        return 0;
    snapshot_of(t, f ? f : t->cur >= 0 ? &t->files[t->cur] : NULL, &p);
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    ev.kind = kind;
    ev.job_id = t->job_id;
    ev.artifact = t->artifact;
    ev.file = file ? file : p.file;
    ev.status = status;
    ev.message = message;
    ev.progress = &p;
    ev.level = level;
    if (message && strstr(message, "://")) {
        char clean[APX_ERRMSG_MAX];
        apx_text_redact(clean, sizeof clean, message);
        ev.message = clean;
        return t->o.sink(&ev, t->o.sink_user) ? aborted(t, kind) : 0;
    }
    return t->o.sink(&ev, t->o.sink_user) ? aborted(t, kind) : 0;
}

static int emit(ap_tracker *t, ap_event_kind kind, const char *file,
                int status, const char *message, uint64_t ms)
{
    return emit_at(t, kind, apx_event_level(kind), NULL, file, status, message, ms);
}

AP_EXPORT int ap_tracker_advance(ap_tracker *t, uint64_t delta)
{
    uint64_t ms;
    tfile *f;
    if (!t)
        return 0;
    ms = now(t);
    t->done += delta;
    t->fetched += delta;
    t->rate_bytes += delta;
    if (delta)
        t->last_byte_ms = ms;
    update_rate(t, ms);
    f = t->cur >= 0 ? &t->files[t->cur] : NULL;
    if (f) {
        /* each file its own rate limit: files that interleave all show */
        f->done += delta;
        f->touched_ms = ms;
        if (ms - f->last_progress_ms < t->o.progress_interval_ms &&
            !(f->total && f->done >= f->total) && !(t->total && t->done >= t->total))
            return 0;
        f->last_progress_ms = ms;
        t->last_progress_ms = ms;
        return emit_at(t, AP_EVENT_PROGRESS, AP_LOG_DEBUG, f, f->name, 0, NULL, ms);
    }
    if (ms - t->last_progress_ms >= t->o.progress_interval_ms ||
        (t->total && t->done >= t->total)) {
        t->last_progress_ms = ms;
        return emit(t, AP_EVENT_PROGRESS, NULL, 0, NULL, ms);
    }
    return 0;
}

/* The file leaves the active ones; its event tells its last state. */
AP_EXPORT int ap_tracker_file_done(ap_tracker *t, const char *file)
{
    int i, rc;
    tfile gone;
    if (!t)
        return 0;
    t->files_done++;
    if ((i = find_file(t, file)) < 0) {
        memset(&gone, 0, sizeof gone);
        gone.name = (char *)file;
        return emit_at(t, AP_EVENT_FILE_DONE, AP_LOG_INFO, file ? &gone : NULL, file,
                       0, NULL, now(t));
    }
    rc = emit_at(t, AP_EVENT_FILE_DONE, AP_LOG_INFO, &t->files[i], file, 0, NULL, now(t));
    drop_file(t, (unsigned)i);
    return rc;
}

/* What the job is doing, for a heartbeat: "downloading x.gguf, 42 %",
 * "resolving SCHEME:org/repo", "waiting for another download of x.gguf",
 * and how long no byte came when that is long. */
static void describe(const ap_tracker *t, uint64_t ms, char *msg, size_t n)
{
    size_t used = 0;
    int k;
    const char *phase = t->phase ? t->phase : "alive";
    const char *subj = t->subject;
    const tfile *f = t->cur >= 0 ? &t->files[t->cur] : NULL;
    if (!strcmp(phase, "downloading") && f)
        subj = f->name;
    if (!t->phase && ms - t->last_byte_ms >= 2000) {
        (void)snprintf(msg, n, "no data for %llu s",
                       (unsigned long long)((ms - t->last_byte_ms) / 1000));
        return;
    }
    if (!strcmp(phase, "waiting"))
        k = snprintf(msg, n, "waiting for another download of %s", subj ? subj : "a file");
    else
        k = snprintf(msg, n, "%s%s%s", phase, subj ? " " : "", subj ? subj : "");
    used = k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
    if (!strcmp(phase, "downloading") && used < n) {
        if (f && f->total && f->done <= f->total)
            k = snprintf(msg + used, n - used, ", %.0f %%",
                         100.0 * (double)f->done / (double)f->total);
        else if (t->total && t->done <= t->total)
            k = snprintf(msg + used, n - used, ", %.0f %%",
                         100.0 * (double)t->done / (double)t->total);
        else
            k = 0;
        used += k < 0 ? 0 : (size_t)k < n - used ? (size_t)k : n - used - 1;
    }
    if (ms - t->last_byte_ms >= 2000 && used < n && !strcmp(phase, "downloading"))
        (void)snprintf(msg + used, n - used, "%sno data for %llu s",
                       used ? ", " : "",
                       (unsigned long long)((ms - t->last_byte_ms) / 1000));
}

AP_EXPORT int ap_tracker_tick(ap_tracker *t)
{
    uint64_t ms;
    char msg[APX_ERRMSG_MAX];
    if (!t)
        return 0;
    ms = now(t);
    update_rate(t, ms); /* with no bytes, the rate decays toward zero */
    if (ms - t->last_emit_ms < t->o.heartbeat_ms)
        return 0;
    describe(t, ms, msg, sizeof msg);
    return emit(t, AP_EVENT_HEARTBEAT, NULL, 0, msg, ms);
}

AP_EXPORT unsigned ap_tracker_next_due_ms(const ap_tracker *t)
{
    uint64_t ms, due;
    if (!t)
        return 1000;
    ms = now(t);
    due = t->last_emit_ms + t->o.heartbeat_ms;
    return due > ms ? (unsigned)(due - ms) : 0;
}

AP_EXPORT int ap_tracker_emit(ap_tracker *t, ap_event_kind kind,
                              const char *file, int status,
                              const char *message)
{
    if (!t)
        return 0;
    return emit(t, kind, file, status, message, now(t));
}

AP_EXPORT int ap_tracker_log(ap_tracker *t, ap_log_level level,
                             const char *file, int status,
                             const char *message)
{
    if (!t)
        return 0;
    if ((int)level < AP_LOG_ERROR || (int)level > AP_LOG_DEBUG)
        level = AP_LOG_ERROR; /* an out-of-range level is not hidden as debug */
    return emit_at(t, AP_EVENT_LOG, level, NULL, file, status, message, now(t));
}

/* ---- internal mutators (progress.h) ------------------------------------ */

void apx_tracker_phase(ap_tracker *t, const char *phase, const char *subject)
{
    char *p, *s;
    if (!t)
        return;
    p = apx_strdup(phase);
    s = apx_strdup(subject);
    if ((phase && !p) || (subject && !s)) {
        free(p);
        free(s);
        return; /* keep the old description rather than fail */
    }
    free(t->phase);
    free(t->subject);
    t->phase = p;
    t->subject = s;
}

void apx_tracker_present(ap_tracker *t, uint64_t bytes, unsigned files)
{
    if (!t)
        return;
    t->done += bytes;
    t->files_done += files;
}

static uint64_t add_signed(uint64_t v, int64_t d)
{
    if (d < 0)
        return (uint64_t)-d > v ? 0 : v - (uint64_t)-d;
    return v + (uint64_t)d;
}

void apx_tracker_adjust(ap_tracker *t, int64_t done_delta, int64_t total_delta)
{
    if (!t)
        return;
    t->done = add_signed(t->done, done_delta);
    t->total = add_signed(t->total, total_delta);
}

/* ---- the thread's activity hook ------------------------------------------ */

static _Thread_local apx_tick_hook tl_hook;

void apx_tick_push(apx_tick_hook *saved, apx_tick_fn fn, void *user)
{
    *saved = tl_hook;
    tl_hook.fn = fn;
    tl_hook.user = user;
}

void apx_tick_pop(const apx_tick_hook *saved)
{
    tl_hook = *saved;
}

int apx_tick_active(void)
{
    return tl_hook.fn != NULL;
}

int apx_tick(uint64_t bytes)
{
    apx_tick_hook h = tl_hook;
    int rc;
    if (!h.fn)
        return 0;
    /* A sink that provisions again on this thread must not re-enter us. */
    tl_hook.fn = NULL;
    rc = h.fn(h.user, bytes);
    tl_hook = h;
    return rc;
}

/* ---- JSON ------------------------------------------------------------------ */

/* A JSON string of s: bytes that are not valid UTF-8 (a server's text may
 * carry them, and jansson refuses them, which would lose the whole event)
 * become U+FFFD (ap_utf8_repair).  NULL: null. */
static json_t *jstr_or_null(const char *s)
{
    json_t *j;
    char *fixed;
    if (!s)
        return json_null();
    if ((j = json_string(s)))
        return j;
    if (!(fixed = ap_utf8_repair(s)))
        return NULL;
    j = json_string(fixed);
    free(fixed);
    return j;
}

/* A number rounded to `unit` (0.1, 0.001, 1), so that the JSON reads
 * 0.004 and not 0.0040000000000000001 (with the dump's precision). */
static json_t *jtidy(double v, double unit)
{
    return json_real(floor(v / unit + 0.5) * unit);
}

static json_t *jnum_or_null(double v, double unit)
{
    return v < 0 ? json_null() : jtidy(v, unit);
}

/* The members common to ap_event and ap_job_event, into obj. */
int apx_event_json_fill(void *vobj, ap_event_kind kind, ap_job_id job,
                        ap_log_level level, int status, const char *file,
                        const char *message, const ap_progress *p)
{
    json_t *obj = vobj;
    char clean[APX_ERRMSG_MAX];
    const char *msg = message;
    int bad = 0;
    if (msg && strstr(msg, "://")) {
        apx_text_redact(clean, sizeof clean, msg);
        msg = clean;
    }
#define SET(k, v) bad |= json_object_set_new(obj, k, v)
    SET("event", json_string(ap_event_kind_name(kind)));
    SET("job", json_integer((json_int_t)job));
    SET("level", json_string(ap_log_level_name(level)));
    SET("status", json_integer(status));
    SET("artifact", jstr_or_null(p ? p->artifact : NULL));
    SET("file", jstr_or_null(file));
    SET("message", jstr_or_null(msg));
    SET("phase", jstr_or_null(p && p->struct_size >= offsetof(ap_progress, phase) +
                                       sizeof p->phase ? p->phase : NULL));
    SET("bytes_done", json_integer((json_int_t)(p ? p->bytes_done : 0)));
    SET("bytes_total", json_integer((json_int_t)(p ? p->bytes_total : 0)));
    SET("file_done", json_integer((json_int_t)(p ? p->file_done : 0)));
    SET("file_total", json_integer((json_int_t)(p ? p->file_total : 0)));
    SET("files_done", json_integer(p ? p->files_done : 0));
    SET("files_total", json_integer(p ? p->files_total : 0));
    SET("percent", jnum_or_null(p ? p->percent : -1, 0.01));
    SET("rate", jtidy(p ? p->rate : 0, 1));
    SET("eta", jnum_or_null(p ? p->eta : -1, 0.001));
    SET("elapsed", jtidy(p ? p->elapsed : 0, 0.001));
    SET("idle", jtidy(p ? p->idle : 0, 0.001));
    SET("fetched_bytes", json_integer((json_int_t)(p && p->struct_size >=
                                      offsetof(ap_progress, fetched_bytes) +
                                      sizeof p->fetched_bytes ? p->fetched_bytes : 0)));
    SET("file_sha256", jstr_or_null(AP_PROGRESS_HAS(p, file_sha256) ? p->file_sha256
                                                                    : NULL));
#undef SET
    return bad ? AP_ENOMEM : AP_OK;
}

int apx_json_dump_out(void *vobj, char **out)
{
    json_t *obj = vobj;
    char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                      JSON_REAL_PRECISION(15)) : NULL;
    json_decref(obj);
    if (!s)
        return AP_ENOMEM;
    *out = apx_strdup(s);
    free(s);
    return *out ? AP_OK : AP_ENOMEM;
}

AP_EXPORT int ap_event_to_json(const ap_event *ev, char **out)
{
    json_t *obj;
    ap_log_level level;
    int rc;
    if (out)
        *out = NULL;
    if (!ev || !out || ev->struct_size < offsetof(ap_event, level))
        return apx_error_set(NULL, AP_EINVAL, "ap_event_to_json: no event, no output, "
                             "or an event struct_size below the minimum");
    level = AP_EVENT_HAS(ev, level) ? ev->level : apx_event_level(ev->kind);
    if (!(obj = json_object()))
        return apx_error_set(NULL, AP_ENOMEM, "ap_event_to_json: out of memory");
    rc = apx_event_json_fill(obj, ev->kind, ev->job_id, level, ev->status, ev->file,
                             ev->message, ev->progress);
    if (rc != AP_OK) {
        json_decref(obj);
        return apx_error_set(NULL, rc, "ap_event_to_json: out of memory");
    }
    rc = apx_json_dump_out(obj, out);
    return rc ? apx_error_set(NULL, rc, "ap_event_to_json: out of memory") : AP_OK;
}
