/* apctl — the event sink of a pull: what the jobs are doing, for the
 * displays.
 * SPDX-License-Identifier: MIT
 *
 * Events (of one ap_provision, or of every job of a registry, delivered
 * from several threads) update a small model -- per job its bytes, rate,
 * ETA and files, and the files being fetched now -- and then one display:
 *   --events     the JSON stream (events.c), nothing else;
 *   --quiet      nothing;
 *   a terminal   bars, redrawn in place (progress_tty.c);
 *   otherwise    plain log lines at a steady cadence (progress_log.c).
 * Warnings, retries and notes of the library print as lines in every mode
 * but --quiet (and --events, which carries them). */
#include "apctl.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_winch(int sig)
{
    (void)sig;
    tty_resized();
}

int pull_ui_init(pull_ui *ui, int quiet, int events)
{
    memset(ui, 0, sizeof *ui);
    ui->quiet = quiet;
    ui->events = events;
    ui->tty = isatty(2);
    ui->lock = &g_lock;
    if (ui->tty && !quiet && !events) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_winch;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGWINCH, &sa, NULL);
        tty_resized();
    }
    return 0;
}

void pull_ui_done(pull_ui *ui)
{
    pull_ui_clear(ui);
    if (ui->tty && !ui->quiet && !ui->events)
        signal(SIGWINCH, SIG_DFL);
}

static void clear_locked(pull_ui *ui)
{
    if (ui->tty && !ui->quiet && !ui->events)
        tty_clear(ui);
}

void pull_ui_clear(pull_ui *ui)
{
    pthread_mutex_lock(&g_lock);
    clear_locked(ui);
    pthread_mutex_unlock(&g_lock);
}

static prog_job *job_of(pull_ui *ui, const ap_event *ev)
{
    size_t i;
    for (i = 0; i < ui->njobs; i++)
        if (ui->jobs[i].id == ev->job_id)
            return &ui->jobs[i];
    if (ui->njobs == PROG_MAX_JOBS)
        return NULL;
    memset(&ui->jobs[ui->njobs], 0, sizeof ui->jobs[0]);
    ui->jobs[ui->njobs].id = ev->job_id;
    snprintf(ui->jobs[ui->njobs].ref, sizeof ui->jobs[0].ref, "%s", T(ev->artifact));
    ui->jobs[ui->njobs].log_at = 0;
    return &ui->jobs[ui->njobs++];
}

static void file_forget(pull_ui *ui, ap_job_id job, const char *name)
{
    size_t i;
    for (i = 0; i < ui->nfiles; i++)
        if (ui->files[i].job == job && (!name || strcmp(ui->files[i].name, T(name)) == 0)) {
            memmove(&ui->files[i], &ui->files[i + 1],
                    (ui->nfiles - i - 1) * sizeof ui->files[0]);
            ui->nfiles--;
            i--;
        }
}

static void file_update(pull_ui *ui, ap_job_id job, const ap_progress *p)
{
    const char *name = T(p->file);
    size_t i;
    for (i = 0; i < ui->nfiles; i++)
        if (ui->files[i].job == job && strcmp(ui->files[i].name, name) == 0)
            break;
    if (i == ui->nfiles) {
        if (ui->nfiles == PROG_MAX_FILES)
            return; /* the total line still counts it */
        ui->nfiles++;
        ui->files[i].job = job;
        snprintf(ui->files[i].name, sizeof ui->files[i].name, "%s", name);
    }
    ui->files[i].done = p->file_done;
    ui->files[i].total = p->file_total;
}

/* An event's level (a library older than the member: the kind's). */
static ap_log_level ev_level(const ap_event *ev)
{
    if (AP_EVENT_HAS(ev, level))
        return ev->level;
    return ev->kind == AP_EVENT_ERROR ? AP_LOG_ERROR
         : ev->kind == AP_EVENT_RETRY ? AP_LOG_WARN : AP_LOG_INFO;
}

static void update(pull_ui *ui, prog_job *j, const ap_event *ev)
{
    const ap_progress *p = ev->progress;
    j->done = p->bytes_done;
    j->total = p->bytes_total;
    j->fetched = p->fetched_bytes;
    j->rate = p->rate;
    j->eta = p->eta;
    j->elapsed = p->elapsed;
    j->idle = p->idle;
    j->files_done = p->files_done;
    j->files_total = p->files_total;
    if (p->fetched_bytes)
        j->moved = 1;
    switch (ev->kind) {
    case AP_EVENT_START:
        j->started = 1;
        break;
    case AP_EVENT_PROGRESS:
    case AP_EVENT_HEARTBEAT:
        if (p->file && p->phase &&
            (!strcmp(p->phase, "downloading") || !strcmp(p->phase, "importing")))
            file_update(ui, j->id, p);
        break;
    case AP_EVENT_FILE_DONE:
        j->moved = 1;
        file_forget(ui, j->id, ev->file);
        break;
    case AP_EVENT_DONE:
    case AP_EVENT_ERROR:
    case AP_EVENT_CANCELLED:
        j->ended = 1;
        file_forget(ui, j->id, NULL);
        break;
    default:
        break;
    }
}

/* Lines the library has to say: retries, warnings, notes. */
static void say_event(pull_ui *ui, const ap_event *ev)
{
    if (ev->kind == AP_EVENT_RETRY && ev->message) {
        clear_locked(ui);
        fprintf(stderr, "retry: %s\n", T(ev->message));
    }
    /* log events, by their own level: errors and warnings (the vendor's,
     * or what the library worked around) say so; notes are printed as
     * they are; debug detail is not shown */
    if (ev->kind == AP_EVENT_LOG && ev->message && ev_level(ev) <= AP_LOG_INFO) {
        clear_locked(ui);
        fprintf(stderr, "%s%s%s%s\n",
                ev_level(ev) == AP_LOG_ERROR  ? "error: "
                : ev_level(ev) == AP_LOG_WARN ? "warning: " : "",
                ev->file ? T(ev->file) : "", ev->file ? ": " : "", T(ev->message));
    }
}

int pull_ui_event(const ap_event *ev, void *user)
{
    pull_ui *ui = user;
    prog_job *j;
    pthread_mutex_lock(&g_lock);
    j = job_of(ui, ev);
    if (j)
        update(ui, j, ev);
    if (ui->events)
        events_write(stderr, ev);
    if (!ui->quiet)
        say_event(ui, ev);
    if (!ui->quiet && !ui->events && j) {
        if (ui->tty) {
            if (j->started) /* nothing to show while it resolves */
                tty_draw(ui, ev->kind != AP_EVENT_PROGRESS);
        }
        else
            log_job(ui, j);
    }
    pthread_mutex_unlock(&g_lock);
    return 0;
}

int pull_ui_moved(pull_ui *ui, ap_job_id id)
{
    size_t i;
    int moved = 0;
    pthread_mutex_lock(&g_lock);
    for (i = 0; i < ui->njobs; i++)
        if (ui->jobs[i].id == id || !id)
            moved |= ui->jobs[i].moved;
    pthread_mutex_unlock(&g_lock);
    return moved;
}

/* "3 files, 40.0 MiB in 12s (3.3 MiB/s), 40.0 MiB fetched" */
void pull_ui_summary(pull_ui *ui, const char *what, size_t files, double secs)
{
    uint64_t total = 0, fetched = 0;
    char sz[32], f[32], rate[32], t[32];
    size_t i;
    if (ui->quiet)
        return;
    pthread_mutex_lock(&g_lock);
    clear_locked(ui);
    for (i = 0; i < ui->njobs; i++) {
        total += ui->jobs[i].total;
        fetched += ui->jobs[i].fetched;
    }
    pthread_mutex_unlock(&g_lock);
    human(total, sz, sizeof sz);
    human(fetched, f, sizeof f);
    human(secs > 0.001 ? (uint64_t)((double)fetched / secs) : 0, rate, sizeof rate);
    if (secs < 60)
        snprintf(t, sizeof t, "%.1fs", secs);
    else
        human_secs(secs, t, sizeof t);
    fprintf(stderr, "%s: %zu file%s, %s in %s (%s/s), %s fetched\n", T(what), files,
            files == 1 ? "" : "s", sz, t, rate, f);
}
