/* apd — the /v1 API: jobs, their events, the catalog's models, gc and
 * verify; /healthz.  docs/daemon.md.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ap_job_id parse_id(const char *s, size_t n)
{
    ap_job_id v = 0;
    size_t i;
    if (n == 0 || n > 19)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (ap_job_id)(s[i] - '0');
    }
    return v;
}

/* A string array member (at most APD_MAX_GLOBS) into a NULL-terminated
 * array of borrowed strings; -1 with msg on a bad one. */
static int str_array(json_t *a, const char *name, const char ***out, char *msg, size_t msz)
{
    size_t i;
    *out = NULL;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > APD_MAX_GLOBS) {
        snprintf(msg, msz, "\"%s\" must be an array of at most %d strings", name,
                 APD_MAX_GLOBS);
        return -1;
    }
    if (!(*out = calloc(json_array_size(a) + 1, sizeof **out)))
        return -1;
    for (i = 0; i < json_array_size(a); i++) {
        if (!json_is_string(json_array_get(a, i))) {
            snprintf(msg, msz, "\"%s\" must be an array of strings", name);
            return -1;
        }
        (*out)[i] = json_string_value(json_array_get(a, i));
    }
    return 0;
}

/* "options": {"KEY": "VALUE"} into vendor_options pairs.  A key "env:..."
 * would override the daemon's environment (HF_TOKEN, OLLAMA_MODELS, a
 * vendor's endpoint) from the network: refused. */
static int options(json_t *o, const char ***out, char *msg, size_t msz)
{
    const char *k;
    json_t *v;
    size_t i = 0;
    *out = NULL;
    if (!o)
        return 0;
    if (!json_is_object(o) || json_object_size(o) > APD_MAX_GLOBS) {
        snprintf(msg, msz, "\"options\" must be an object of at most %d strings",
                 APD_MAX_GLOBS);
        return -1;
    }
    if (!(*out = calloc(2 * json_object_size(o) + 1, sizeof **out)))
        return -1;
    json_object_foreach(o, k, v) {
        if (!json_is_string(v)) {
            snprintf(msg, msz, "option \"%.100s\": the value must be a string", k);
            return -1;
        }
        if (strncmp(k, "env:", 4) == 0 || !*k) {
            snprintf(msg, msz, "option \"%.100s\": refused (environment overrides are "
                     "not accepted over HTTP; set them in apd's environment)", k);
            return -1;
        }
        (*out)[i++] = k;
        (*out)[i++] = json_string_value(v);
    }
    return 0;
}

static enum MHD_Result post_job(apd_req *rq)
{
    static const char *const known[] = { "operation", "ref", "include", "exclude",
        "options", "force", "heartbeat_ms", "max_bytes_per_sec", "connections", NULL };
    enum MHD_Result res = MHD_YES;
    json_t *b = apd_body_json(rq, &res), *v;
    apd_submit s = { 0 };
    const char *k;
    char msg[512] = "";
    ap_job_id id;
    int existing = 0, bad = 0;
    size_t i;

    if (!b)
        return res;
    json_object_foreach(b, k, v) {
        for (i = 0; known[i] && strcmp(known[i], k) != 0; i++)
            ;
        if (!known[i] && !bad) {
            snprintf(msg, sizeof msg, "unknown member \"%.100s\" (known: operation, ref, "
                     "include, exclude, options, force, heartbeat_ms, "
                     "max_bytes_per_sec, connections)", k);
            bad = 1;
        }
    }
    v = json_object_get(b, "operation");
    if (!bad && v && (!json_is_string(v) ||
                      strcmp(json_string_value(v), "model_download") != 0)) {
        snprintf(msg, sizeof msg, "\"operation\": only \"model_download\" is known");
        bad = 1;
    }
    s.ref = json_string_value(json_object_get(b, "ref"));
    if (!bad && !s.ref) {
        snprintf(msg, sizeof msg, "\"ref\" (a string) is required");
        bad = 1;
    }
    if (!bad && (str_array(json_object_get(b, "include"), "include", &s.include, msg, sizeof msg) ||
                 str_array(json_object_get(b, "exclude"), "exclude", &s.exclude, msg, sizeof msg) ||
                 options(json_object_get(b, "options"), &s.vendor_options, msg, sizeof msg)))
        bad = 1;
#define NUM(name, lo, hi, dst)                                                       \
    if (!bad && (v = json_object_get(b, name)) &&                                    \
        (!json_is_integer(v) || json_integer_value(v) < (lo) ||                      \
         json_integer_value(v) > (hi))) {                                            \
        snprintf(msg, sizeof msg, "\"%s\" must be an integer in %lld..%lld", name,   \
                 (long long)(lo), (long long)(hi));                                  \
        bad = 1;                                                                     \
    } else if (v)                                                                    \
        dst = json_integer_value(v)
    NUM("heartbeat_ms", 50, 600000, s.heartbeat_ms);
    NUM("connections", 1, 64, s.connections);
    NUM("max_bytes_per_sec", 0, (json_int_t)1 << 50, s.max_bytes_per_sec);
#undef NUM
    if (!bad && json_is_true(json_object_get(b, "force")))
        s.flags |= AP_PROVISION_FORCE;
    if (!bad) {
        s.request = b;
        if (apd_submit_job(rq, &s, &id, &existing, &res) == 0)
            res = apd_reply(rq, existing ? 200 : 202,
                            json_pack("{s:I, s:b}", "job_id", (json_int_t)id,
                                      "existing", existing));
    } else {
        res = apd_reply_error(rq, 400, "%s", msg);
    }
    free(s.include);
    free(s.exclude);
    free(s.vendor_options);
    json_decref(b);
    return res;
}

/* A job as JSON: the registry's, else the history's; NULL when unknown.
 * A done job's entry goes to *entry (the reply appends its document:
 * apd_reply_with_entry), else NULL. */
static json_t *job_view(ap_job_id id, ap_entry **entry)
{
    ap_job_info info = AP_JOB_INFO_INIT;
    json_t *j;
    *entry = NULL;
    if (ap_jobs_info(G.jobs, id, &info) != AP_OK) {
        const char *eid;
        ap_provisioner *p;
        if (!(j = apd_history_get(id)))
            return NULL;
        eid = json_string_value(json_object_get(j, "entry_id"));
        if (eid && (p = apd_prov_get())) {
            if (ap_catalog_get(ap_provisioner_catalog(p), eid, entry) != AP_OK)
                *entry = NULL;
            apd_prov_put(p);
        }
        return j;
    }
    j = apd_job_json(&info);
    if (info.state == AP_JOB_DONE && ap_jobs_entry(G.jobs, id, entry) != AP_OK)
        *entry = NULL;
    ap_job_info_clear(&info);
    return j;
}

static enum MHD_Result get_jobs(apd_req *rq)
{
    json_t *arr = apd_history_list(), *out = json_array();
    ap_job_id *ids = NULL;
    size_t n = 0, i, h = 0;
    if (ap_jobs_list(G.jobs, &ids, &n) != AP_OK)
        n = 0;
    /* history (older ids, or forgotten by the registry) then the registry's */
    for (h = 0; h < json_array_size(arr); h++) {
        json_t *r = json_array_get(arr, h);
        ap_job_id hid = (ap_job_id)json_integer_value(json_object_get(r, "job_id"));
        for (i = 0; i < n && ids[i] != hid; i++)
            ;
        if (i == n)
            json_array_append(out, r);
    }
    for (i = 0; i < n; i++) {
        ap_job_info info = AP_JOB_INFO_INIT;
        if (ap_jobs_info(G.jobs, ids[i], &info) == AP_OK)
            json_array_append_new(out, apd_job_json(&info));
        ap_job_info_clear(&info);
    }
    ap_free(ids);
    json_decref(arr);
    return apd_reply(rq, 200, json_pack("{s:o}", "jobs", out));
}

static enum MHD_Result cancel_job(apd_req *rq, ap_job_id id)
{
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_entry *e;
    json_t *h, *j;
    int rc = ap_jobs_info(G.jobs, id, &info);
    if (rc == AP_OK && info.state >= AP_JOB_DONE) {
        enum MHD_Result res = apd_reply_error(rq, 409, "job %llu has already ended (%s)",
                                              (unsigned long long)id,
                                              ap_job_state_name(info.state));
        ap_job_info_clear(&info);
        return res;
    }
    ap_job_info_clear(&info);
    if (rc != AP_OK && (h = apd_history_get(id))) {
        enum MHD_Result res = apd_reply_error(
            rq, 409, "job %llu has already ended (%s)", (unsigned long long)id,
            json_string_value(json_object_get(h, "state")));
        json_decref(h);
        return res;
    }
    if (rc == AP_OK)
        rc = ap_jobs_cancel(G.jobs, id);
    if (rc != AP_OK)
        return apd_reply_error(rq, apd_http_code(rc), "%s", ap_error_last()->message);
    apd_log("job %llu: cancel requested", (unsigned long long)id);
    j = job_view(id, &e);
    return apd_reply_with_entry(rq, 202, j, e);
}

/* Resume an interrupted (or failed, or cancelled) job of the history: the
 * same request again; staging data kept by the earlier run is resumed. */
static enum MHD_Result resume_job(apd_req *rq, ap_job_id id)
{
    json_t *req = apd_history_request(id);
    apd_req sub;
    enum MHD_Result res;
    char *text;
    if (!req)
        return apd_reply_error(rq, 409, "job %llu cannot be resumed (unknown, "
                               "running or done)", (unsigned long long)id);
    /* resubmitted through the same parser */
    text = apd_dump(req);
    json_decref(req);
    sub = *rq;
    sub.body = text;
    sub.body_len = text ? strlen(text) : 0;
    sub.too_big = 0;
    res = post_job(&sub);
    rq->status = sub.status;
    free(text);
    return res;
}

static enum MHD_Result job_route(apd_req *rq, const char *s)
{
    const char *slash = strchr(s, '/');
    ap_job_id id = parse_id(s, slash ? (size_t)(slash - s) : strlen(s));
    if (!id)
        return apd_reply_error(rq, 404, "no such job: '%.64s'", s);
    if (!slash) {
        json_t *j;
        ap_entry *e;
        if (!apd_method(rq, "GET"))
            return apd_not_allowed(rq, "GET");
        if (!(j = job_view(id, &e)))
            return apd_reply_error(rq, 404, "job %llu: no such job",
                                   (unsigned long long)id);
        return apd_reply_with_entry(rq, 200, j, e);
    }
    if (strcmp(slash, "/events") == 0) {
        const char *a = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "after");
        const char *l = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
                                                    "Last-Event-ID");
        ap_job_info info = AP_JOB_INFO_INIT;
        if (!apd_method(rq, "GET"))
            return apd_not_allowed(rq, "GET");
        if (ap_jobs_info(G.jobs, id, &info) != AP_OK)
            return apd_reply_error(rq, 404, "job %llu: no such job (or its events are "
                                   "no longer kept)", (unsigned long long)id);
        ap_job_info_clear(&info);
        return apd_stream_events(rq, id, strtoull(a ? a : l ? l : "0", NULL, 10), APD_SSE);
    }
    if (strcmp(slash, "/cancel") == 0)
        return apd_method(rq, "POST") ? cancel_job(rq, id) : apd_not_allowed(rq, "POST");
    if (strcmp(slash, "/resume") == 0)
        return apd_method(rq, "POST") ? resume_job(rq, id) : apd_not_allowed(rq, "POST");
    return apd_reply_error(rq, 404, "no such resource: %.200s", rq->url);
}

static int report(const char *what, const char *path, uint64_t bytes, void *user)
{
    json_array_append_new(user, json_pack("{s:s, s:o, s:I}", "what", what, "path",
                                          apd_jstr(path), "bytes", (json_int_t)bytes));
    return 0;
}

static enum MHD_Result models(apd_req *rq, const char *id)
{
    ap_provisioner *p = apd_prov_get();
    ap_catalog *cat;
    ap_entry **list = NULL, *e = NULL;
    enum MHD_Result res;
    size_t n = 0;
    int rc;
    if (!p)
        return apd_reply_error(rq, 500, "cannot open the store: %s",
                               ap_error_last()->message);
    cat = ap_provisioner_catalog(p);
    if (!id) {
        rc = ap_catalog_list(cat, NULL, &list, &n);
        res = rc == AP_OK ? apd_reply_entries(rq, list, n, "models")
                          : apd_reply_error(rq, 500, "catalog: %s", ap_catalog_errmsg(cat));
        ap_entry_list_free(list, n);
    } else if ((rc = ap_catalog_get(cat, id, &e)) != AP_OK) {
        res = apd_reply_error(rq, apd_http_code(rc), "model '%s': %s", id,
                              rc == AP_ENOTFOUND ? "no such entry in the catalog"
                                                 : ap_catalog_errmsg(cat));
    } else if (apd_method(rq, "GET")) {
        res = apd_reply_entries(rq, &e, 1, NULL);
    } else if ((rc = ap_catalog_remove(cat, e->id)) != AP_OK) {
        res = apd_reply_error(rq, apd_http_code(rc), "model '%s': %s", id,
                              ap_catalog_errmsg(cat));
    } else {
        apd_log("model %s removed", e->id);
        res = apd_reply(rq, 200, json_pack("{s:o, s:o}", "removed", apd_jstr(e->id),
                                           "ref", apd_jstr(e->ref)));
    }
    ap_entry_free(e);
    apd_prov_put(p);
    return res;
}

/* POST /v1/gc and /v1/verify ({"remove": true} removes corrupt blobs). */
static enum MHD_Result maintenance(apd_req *rq, int verify)
{
    enum MHD_Result res = MHD_YES;
    json_t *b = rq->body_len ? apd_body_json(rq, &res) : json_object(), *acted;
    ap_provisioner *p;
    uint64_t freed = 0;
    size_t checked = 0, bad = 0;
    int rc;
    if (!b)
        return res;
    if (!(p = apd_prov_get())) {
        json_decref(b);
        return apd_reply_error(rq, 500, "cannot open the store: %s",
                               ap_error_last()->message);
    }
    acted = json_array();
    if (verify) {
        unsigned fl = json_is_true(json_object_get(b, "remove")) ? AP_VERIFY_REMOVE : 0;
        rc = ap_store_verify(ap_provisioner_store(p), fl, report, acted, &checked, &bad);
        res = rc == AP_OK
                  ? apd_reply(rq, 200, json_pack("{s:I, s:I, s:b, s:O}", "checked",
                                                 (json_int_t)checked, "corrupt",
                                                 (json_int_t)bad, "removed", fl != 0,
                                                 "blobs", acted))
                  : apd_reply_error(rq, 500, "verify: %s",
                                    ap_store_errmsg(ap_provisioner_store(p)));
    } else {
        rc = ap_catalog_gc(ap_provisioner_catalog(p), 24 * 3600, report, acted, &freed);
        res = rc == AP_OK
                  ? apd_reply(rq, 200, json_pack("{s:I, s:O}", "freed_bytes",
                                                 (json_int_t)freed, "removed", acted))
                  : apd_reply_error(rq, rc == AP_ECORRUPT ? 409 : 500, "gc: %s",
                                    ap_catalog_errmsg(ap_provisioner_catalog(p)));
    }
    apd_log("%s: %s", verify ? "verify" : "gc", rc == AP_OK ? "done" : ap_strerror(rc));
    json_decref(acted);
    json_decref(b);
    apd_prov_put(p);
    return res;
}

enum MHD_Result apd_route_v1(apd_req *rq)
{
    const char *u = rq->url;
    if (strcmp(u, "/healthz") == 0) {
        if (!apd_method(rq, "GET"))
            return apd_not_allowed(rq, "GET");
        return apd_reply(rq, 200, json_pack("{s:s, s:s}", "status",
                                            atomic_load(&G.stop) ? "stopping" : "ok",
                                            "version", ap_version()));
    }
    if (strcmp(u, "/v1/jobs") == 0) {
        if (apd_method(rq, "POST"))
            return post_job(rq);
        return apd_method(rq, "GET") ? get_jobs(rq) : apd_not_allowed(rq, "GET, POST");
    }
    if (strncmp(u, "/v1/jobs/", 9) == 0)
        return job_route(rq, u + 9);
    if (strcmp(u, "/v1/models") == 0)
        return apd_method(rq, "GET") ? models(rq, NULL) : apd_not_allowed(rq, "GET");
    if (strncmp(u, "/v1/models/", 11) == 0 && u[11]) {
        if (!apd_method(rq, "GET") && !apd_method(rq, "DELETE"))
            return apd_not_allowed(rq, "GET, DELETE");
        return models(rq, u + 11);
    }
    if (strcmp(u, "/v1/gc") == 0 || strcmp(u, "/v1/verify") == 0)
        return apd_method(rq, "POST") ? maintenance(rq, u[4] == 'v')
                                      : apd_not_allowed(rq, "POST");
    return apd_reply_error(rq, 404, "no such resource: %.200s", u);
}
