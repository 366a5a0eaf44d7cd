/* apd — submitting jobs (shared by /v1/jobs and /api/pull): the reference
 * checked before a job exists, the same reference while running answered
 * with the running job, the request recorded in the history; and the JSON
 * of a job and of a catalog entry.
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

/* 0 when `ref` is SCHEME:REST with a scheme a loaded vendor serves and a
 * REST of printable characters; else -1 and a message naming the
 * reference and the grammar the vendors accept. */
int apd_check_ref(const char *ref, char *msg, size_t msz)
{
    char known[1024] = "";
    size_t i, j, used = 0, sl = 0;
    int served = 0;
    const unsigned char *p;

    for (i = 0; i < ap_vendor_set_count(G.vendors); i++) {
        ap_vendor_info vi;
        memset(&vi, 0, sizeof vi);
        vi.struct_size = sizeof vi;
        if (ap_vendor_set_info(G.vendors, i, &vi) != AP_OK)
            continue;
        if (used < sizeof known)
            used += (size_t)snprintf(known + used, sizeof known - used, "%s%s",
                                     used ? "; " : "",
                                     vi.usage && *vi.usage ? vi.usage : vi.name);
        while (ref[sl] && ref[sl] != ':')
            sl++;
        for (j = 0; vi.schemes && vi.schemes[j]; j++)
            if (strlen(vi.schemes[j]) == sl && strncasecmp(vi.schemes[j], ref, sl) == 0)
                served = 1;
        sl = 0;
    }
    for (p = (const unsigned char *)ref; *p; p++)
        if (*p <= 0x20 || *p == 0x7F)
            break;
    if (!*ref || *p || !strchr(ref, ':') || ref[0] == ':' || !strchr(ref, ':')[1]) {
        snprintf(msg, msz, "'%.300s': not a reference (want SCHEME:..., no space or "
                 "control character; the vendors loaded accept: %s)", ref, known);
        return -1;
    }
    if (!served) {
        snprintf(msg, msz, "'%.300s': no vendor serves the scheme '%.*s:' (the vendors "
                 "loaded accept: %s)", ref, (int)(strchr(ref, ':') - ref), ref, known);
        return -1;
    }
    return 0;
}

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

    if (apd_check_ref(s->ref, msg, sizeof msg) != 0) {
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

/* A job as JSON.  Its progress and text go through the library's event
 * JSON (ap_job_event_to_json: the same members, rounding and repair of
 * text that is not UTF-8 as the event stream), under the job's own keys. */
json_t *apd_job_json(const ap_job_info *i)
{
    static const char *const progress_keys[] = { "file", "phase", "bytes_done",
        "bytes_total", "file_done", "file_total", "files_done", "files_total",
        "percent", "rate", "eta", "elapsed", "idle", "fetched_bytes", NULL };
    ap_job_event ev = AP_JOB_EVENT_INIT;
    json_t *e = NULL, *j;
    char *text = NULL;
    size_t k;
    ev.seq = i->last_seq;
    ev.job_id = i->id;
    ev.kind = i->state == AP_JOB_DONE ? AP_EVENT_DONE
              : i->state == AP_JOB_FAILED ? AP_EVENT_ERROR
              : i->state == AP_JOB_CANCELLED ? AP_EVENT_CANCELLED : AP_EVENT_PROGRESS;
    ev.status = i->status;
    ev.final = i->state >= AP_JOB_DONE;
    ev.file = (char *)i->progress.file; /* only read: ev is never cleared */
    ev.message = i->message;
    ev.progress = i->progress;
    if (ap_job_event_to_json(&ev, &text) == AP_OK)
        e = json_loads(text, 0, NULL);
    ap_free(text);
    j = json_pack("{s:I, s:s, s:o, s:s, s:i, s:O, s:o}", "job_id", (json_int_t)i->id,
                  "operation", "model_download", "ref", apd_jstr(i->ref),
                  "state", ap_job_state_name(i->state), "status", i->status,
                  "error", e ? json_object_get(e, "message") : json_null(),
                  "entry_id", apd_jstr(i->entry_id));
    for (k = 0; j && e && progress_keys[k]; k++)
        json_object_set(j, progress_keys[k], json_object_get(e, progress_keys[k]));
    if (j)
        json_object_update_new(j, json_pack("{s:I, s:I, s:I, s:I}", "last_seq",
                                            (json_int_t)i->last_seq, "submitted",
                                            (json_int_t)i->submitted, "started",
                                            (json_int_t)i->started, "finished",
                                            (json_int_t)i->finished));
    json_decref(e);
    return j;
}

json_t *apd_entry_json(const ap_entry *e)
{
    char *text = NULL;
    json_t *j = NULL;
    if (ap_entry_to_json(e, &text) == AP_OK)
        j = json_loads(text, 0, NULL);
    ap_free(text);
    return j ? j : json_null();
}
