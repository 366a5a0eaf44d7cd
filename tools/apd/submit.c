/* apd — submitting jobs (shared by /v1/jobs and /api/pull): the reference
 * checked before a job exists, the same reference while running answered
 * with the running job, the request recorded in the history.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* check-then-submit is one step, so that two submissions of a reference
 * make one job (no I/O under it: ap_jobs_submit only queues) */
static pthread_mutex_t submit_mu = PTHREAD_MUTEX_INITIALIZER;

/* The queued or running job of `ref`, 0 when none. */
static ap_job_id running_job_of(const char *ref)
{
    ap_job_id *ids = NULL, found = 0;
    size_t n = 0, i;
    if (ap_jobs_list(G.jobs, &ids, &n) != AP_OK)
        return 0;
    for (i = n; i-- > 0 && !found;) {
        ap_job_info info = AP_JOB_INFO_INIT;
        if (ap_jobs_info(G.jobs, ids[i], &info) != AP_OK)
            continue;
        if ((info.state == AP_JOB_QUEUED || info.state == AP_JOB_RUNNING) &&
            info.ref && strcmp(info.ref, ref) == 0)
            found = ids[i];
        ap_job_info_clear(&info);
    }
    ap_free(ids);
    return found;
}

int apd_submit_job(apd_req *rq, const apd_submit *s, ap_job_id *id, int *existing,
                   enum MHD_Result *res)
{
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    char msg[2048];
    int rc;

    /* the syntax, by the vendor that serves the scheme, before any job */
    if (ap_vendor_set_check_ref(G.vendors, s->ref, msg, sizeof msg) != AP_OK) {
        *res = apd_reply_error(rq, 400, "%s", msg);
        return -1;
    }
    o.flags = s->flags;
    o.heartbeat_ms = s->heartbeat_ms ? s->heartbeat_ms : G.heartbeat_ms;
    o.include = s->include;
    o.exclude = s->exclude;
    o.vendor_options = s->vendor_options;
    o.max_connections = s->connections;
    o.max_bytes_per_sec = s->max_bytes_per_sec;
    *existing = 0;
    pthread_mutex_lock(&submit_mu);
    if ((*id = running_job_of(s->ref)) != 0) {
        *existing = 1;
        pthread_mutex_unlock(&submit_mu);
        return 0;
    }
    rc = ap_jobs_submit(G.jobs, s->ref, &o, id);
    pthread_mutex_unlock(&submit_mu);
    if (rc == AP_OK)
        apd_history_submitted(*id, s->request);
    if (rc != AP_OK) {
        *res = apd_reply_error(rq, apd_http_code(rc), "%s", ap_error_last()->message);
        return -1;
    }
    apd_log("job %llu submitted: %s", (unsigned long long)*id, s->ref);
    return 0;
}
