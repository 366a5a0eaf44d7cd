/* apctl — progress when stderr is not a terminal: plain lines a log keeps.
 * SPDX-License-Identifier: MIT
 *
 *   hf:org/repo: 30% 12.0 MiB / 40.0 MiB, 1.2 MiB/s, ETA 0:23, 1/3 files
 *
 * A line per job each time its total crosses another tenth (at most one a
 * second), and at least every 5 seconds while it runs (a stall shows as
 * "no byte for Ns"), so a log shows what happened; nothing for a pull that
 * fetches nothing.  The time is the job's own clock (the event's elapsed). */
#include "apctl.h"

#define LOG_EVERY 5.0   /* seconds between two lines at most */
#define LOG_MIN_GAP 1.0 /* ... and at least */

void log_job(pull_ui *ui, prog_job *j)
{
    char a[32], b[32], r[32], e[32], stall[48] = "";
    int step = j->total ? (int)(j->done * 10 / j->total) : 0;
    double since = j->elapsed - j->log_at;
    (void)ui;
    if (!j->started || j->ended)
        return;
    if (j->done >= j->total && j->total)
        return; /* the summary says the end */
    if (!(since >= LOG_EVERY || (step > j->log_step && since >= LOG_MIN_GAP)))
        return;
    j->log_at = j->elapsed;
    j->log_step = step;
    human(j->done, a, sizeof a);
    human(j->total, b, sizeof b);
    human((uint64_t)j->rate, r, sizeof r);
    human_secs(j->eta, e, sizeof e);
    if (j->idle >= 2)
        snprintf(stall, sizeof stall, ", no byte for %.0fs", j->idle);
    if (j->total)
        fprintf(stderr, "%s: %.0f%% %s / %s, %s/s, ETA %s, %u/%u files%s\n", j->ref,
                100.0 * (double)j->done / (double)j->total, a, b, r, e, j->files_done,
                j->files_total, stall);
    else
        fprintf(stderr, "%s: %s, %s/s, %u/%u files%s\n", j->ref, a, r, j->files_done,
                j->files_total, stall);
    fflush(stderr);
}
