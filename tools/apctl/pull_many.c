/* apctl — a pull of several references: jobs of one registry, `njobs` at
 * a time, reported in the order given.  Ctrl-C cancels them all.
 * SPDX-License-Identifier: MIT
 *
 * The registry's sink feeds the same displays as a single pull (the
 * events of every job, each with its job id); the exit status is that of
 * the first reference that failed, 130 when cancelled. */
#include "apctl.h"

#include <stdlib.h>
#include <string.h>

typedef struct many {
    ap_jobs *jobs;
    ap_job_id *ids;
    ap_entry **done;  /* --json: the entries pulled, in the order given */
    size_t ndone;
    size_t n;
    int first_rc;  /* status of the first failure */
    int cancelled;
    pull_ui *ui;
} many;

static void note_failure(many *m, int status)
{
    if (m->first_rc == AP_OK)
        m->first_rc = status ? status : AP_ERROR;
    if (status == AP_ECANCELLED)
        m->cancelled = 1;
}

/* Wait for job i, in slices so that Ctrl-C can cancel every job at once. */
static void wait_one(many *m, size_t i, const char *ref, int json, int quiet)
{
    ap_job_info info = AP_JOB_INFO_INIT;
    int rc;
    while ((rc = ap_jobs_wait(m->jobs, m->ids[i], 100, &info)) == AP_ETIMEDOUT) {
        ap_job_info_clear(&info);
        if (ap_cancel_is_set(g_cancel) && !m->cancelled) {
            m->cancelled = 1;
            ap_jobs_shutdown(m->jobs);
        }
    }
    if (rc == AP_OK && info.state == AP_JOB_DONE) {
        ap_entry *e = NULL;
        if (ap_jobs_entry(m->jobs, m->ids[i], &e) == AP_OK) {
            if (json) {
                m->done[m->ndone++] = e; /* printed at the end */
                e = NULL;
            } else if (!quiet) {
                pull_ui_clear(m->ui);
                print_pulled_paths(e, ref);
                fflush(stdout);
            }
            ap_entry_free(e);
        }
    } else {
        /* a wait that failed has its detail in the thread's last error */
        note_failure(m, rc != AP_OK ? rc : info.status);
        pull_ui_clear(m->ui);
        pull_failed(rc != AP_OK ? rc : info.status,
                    rc != AP_OK ? ap_error_last()->message
                    : info.message ? info.message : ap_strerror(info.status));
    }
    ap_job_info_clear(&info);
}

int pull_many(char **refs, size_t n, const ap_provision_options *o,
              unsigned njobs, int json, pull_ui *ui)
{
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    ap_provisioner_options po;
    many m;
    size_t i, files = 0;
    double t0 = mono_secs();
    int rc;

    memset(&m, 0, sizeof m);
    m.n = n;
    m.ui = ui;
    jo.max_running = njobs ? njobs : 1;
    jo.max_queued = (unsigned)n;
    jo.max_finished = (unsigned)n;
    jo.sink = pull_ui_event;
    jo.sink_user = ui;
    apctl_provisioner_options(&po);
    if (!(m.ids = calloc(n, sizeof *m.ids)) || (json && !(m.done = calloc(n, sizeof *m.done))) ||
        signals_catch() != 0) {
        fprintf(stderr, "apctl: out of memory\n");
        free(m.ids);
        free(m.done);
        return APCTL_EXIT_FAILURE;
    }
    rc = ap_jobs_new(&m.jobs, &po, &jo);
    if (rc != AP_OK) {
        fprintf(stderr, "apctl: cannot start jobs: %s\n", T(ap_error_last()->message));
        free(m.ids);
        free(m.done);
        signals_release();
        return apctl_exit_code(rc);
    }
    for (i = 0; i < n; i++)
        if ((rc = ap_jobs_submit(m.jobs, refs[i], o, &m.ids[i])) != AP_OK) {
            fprintf(stderr, "apctl: %s: cannot submit: %s\n", T(refs[i]),
                    T(ap_error_last()->message));
            m.ids[i] = 0;
            note_failure(&m, rc);
        }
    for (i = 0; i < n; i++) {
        ap_entry *e = NULL;
        if (!m.ids[i])
            continue;
        wait_one(&m, i, refs[i], json, ui->quiet);
        if (ap_jobs_entry(m.jobs, m.ids[i], &e) == AP_OK)
            files += ap_entry_file_count(e);
        ap_entry_free(e);
    }
    ap_jobs_free(m.jobs); /* joins the workers: no event comes after */
    pull_ui_clear(ui);
    if (json && print_entries_json(m.done, m.ndone) != 0)
        note_failure(&m, AP_ENOMEM);
    ap_entry_list_free(m.done, m.ndone);
    if (m.first_rc == AP_OK && pull_ui_moved(ui, 0) && !ui->events)
        pull_ui_summary(ui, n == 1 ? refs[0] : "total", files, mono_secs() - t0);
    signals_release();
    free(m.ids);
    if (m.cancelled)
        return APCTL_EXIT_CANCELLED;
    return apctl_exit_code(m.first_rc);
}
