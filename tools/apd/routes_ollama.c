/* apd — an Ollama-compatible subset, so that Ollama clients can use apd:
 * POST /api/pull (newline-delimited progress in Ollama's shape), GET
 * /api/tags, DELETE /api/delete.  Names map as ollama maps them:
 * hf.co/ORG/REPO[:QUANT] to the Hugging Face vendor (hf:ORG/REPO[:QUANT]),
 * anything else to the Ollama vendor (ollama:NAME; with "insecure": true,
 * ollama:http://NAME, a registry over plain HTTP).  docs/daemon.md.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OLLAMA_HOST "registry.ollama.ai/"

/* The reference of an Ollama model name; -1 when it is empty or too long. */
static int name_to_ref(const char *name, int insecure, char *ref, size_t sz)
{
    int n;
    if (!name || !*name)
        return -1;
    if (strncmp(name, "hf.co/", 6) == 0)
        n = snprintf(ref, sz, "hf:%s", name + 6);
    else if (strncmp(name, "huggingface.co/", 15) == 0)
        n = snprintf(ref, sz, "hf:%s", name + 15);
    else
        n = snprintf(ref, sz, "ollama:%s%s", insecure && !strstr(name, "://") ? "http://"
                                                                              : "", name);
    return n < 0 || (size_t)n >= sz ? -1 : 0;
}

/* The Ollama name of a catalog entry (NULL for other vendors' entries):
 * ollama:HOST/NS/MODEL:TAG shortened as ollama shows it, hf:ORG/REPO as
 * hf.co/ORG/REPO. */
static char *entry_name(const ap_entry *e)
{
    const char *r = e->ref ? e->ref : "";
    char *out = NULL;
    if (strncmp(r, "hf:", 3) == 0) {
        const char *ref = e->requested && strncmp(e->requested, "hf:", 3) == 0
                              ? e->requested : r;
        if (asprintf(&out, "hf.co/%s", ref + 3) < 0)
            out = NULL;
    } else if (strncmp(r, "ollama:", 7) == 0) {
        r += 7;
        if (strncmp(r, OLLAMA_HOST "library/", sizeof OLLAMA_HOST + 7) == 0)
            r += sizeof OLLAMA_HOST + 7;
        else if (strncmp(r, OLLAMA_HOST, sizeof OLLAMA_HOST - 1) == 0)
            r += sizeof OLLAMA_HOST - 1;
        out = strdup(r);
    }
    return out;
}

/* The model's name from a request body ("model", or the older "name"). */
static const char *body_name(json_t *b)
{
    const char *m = json_string_value(json_object_get(b, "model"));
    return m ? m : json_string_value(json_object_get(b, "name"));
}

static enum MHD_Result pull(apd_req *rq)
{
    enum MHD_Result res = MHD_YES;
    json_t *b = apd_body_json(rq, &res), *req;
    const char *name;
    char ref[2048];
    apd_submit s = { 0 };
    ap_job_id id;
    int existing, stream;
    if (!b)
        return res;
    name = body_name(b);
    stream = !json_is_false(json_object_get(b, "stream"));
    if (name_to_ref(name, json_is_true(json_object_get(b, "insecure")), ref, sizeof ref)) {
        json_decref(b);
        return apd_reply_error(rq, 400, "a model name (\"model\") is required");
    }
    s.ref = ref;
    req = json_pack("{s:s, s:s}", "operation", "model_download", "ref", ref);
    s.request = req;
    if (apd_submit_job(rq, &s, &id, &existing, &res) != 0) {
        json_decref(req);
        json_decref(b);
        return res;
    }
    json_decref(req);
    json_decref(b);
    apd_log("/api/pull %s: job %llu%s", ref, (unsigned long long)id,
            existing ? " (already running)" : "");
    if (!stream) {
        ap_job_info info = AP_JOB_INFO_INIT;
        ap_jobs_wait(G.jobs, id, -1, &info);
        res = info.state == AP_JOB_DONE
                  ? apd_reply(rq, 200, json_pack("{s:s}", "status", "success"))
                  : apd_reply_error(rq, 500, "%s", info.message ? info.message
                                                               : "the pull failed");
        ap_job_info_clear(&info);
        return res;
    }
    return apd_stream_events(rq, id, 0, APD_NDJSON);
}

static const char *model_file_digest(const ap_entry *e, const ap_entry_file **model)
{
    size_t i;
    *model = NULL;
    for (i = 0; i < ap_entry_file_count(e); i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i);
        if (f->kind && strcmp(f->kind, "model") == 0) {
            *model = f;
            return f->sha256;
        }
    }
    return e->revision;
}

static json_t *tag_json(const ap_entry *e, const char *name)
{
    const ap_entry_file *m;
    const char *digest = model_file_digest(e, &m);
    char when[40];
    time_t t = (time_t)(e->updated ? e->updated : e->created);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s, s:s, s:s, s:I, s:o, s:{s:s, s:o, s:o, s:o, s:o}}",
                     "name", name, "model", name, "modified_at", when,
                     "size", (json_int_t)e->total_size, "digest", apd_jstr(digest),
                     "details", "parent_model", "",
                     "format", apd_jstr(m ? m->format : NULL),
                     "family", apd_jstr(m && AP_ENTRY_FILE_HAS(m, architecture)
                                            ? m->architecture : NULL),
                     "parameter_size", json_string(""),
                     "quantization_level", apd_jstr(m ? m->precision : NULL));
}

/* The entry /api/tags lists as `name` (or `name`:latest). */
static int find_by_name(ap_catalog *cat, const char *name, ap_entry **out)
{
    ap_entry **list = NULL;
    size_t n = 0, i, l = strlen(name);
    int rc = ap_catalog_list(cat, NULL, &list, &n);
    *out = NULL;
    for (i = 0; rc == AP_OK && i < n && !*out; i++) {
        char *en = entry_name(list[i]);
        if (en && (strcmp(en, name) == 0 ||
                   (strncmp(en, name, l) == 0 && strcmp(en + l, ":latest") == 0))) {
            *out = list[i];
            list[i] = NULL;
        }
        free(en);
    }
    ap_entry_list_free(list, n); /* the one taken is NULL there */
    return rc != AP_OK ? rc : *out ? AP_OK : AP_ENOTFOUND;
}

/* GET /api/tags (every ready entry of the two vendors) and DELETE
 * /api/delete (name: the entry of its reference). */
static enum MHD_Result tags_or_delete(apd_req *rq, int del)
{
    enum MHD_Result res = MHD_YES;
    ap_provisioner *p;
    ap_entry **list = NULL, *e = NULL;
    json_t *b = NULL, *arr;
    char ref[2048];
    size_t n = 0, i;
    int rc;
    if (del && !(b = apd_body_json(rq, &res)))
        return res;
    if (del && name_to_ref(body_name(b), 0, ref, sizeof ref)) {
        json_decref(b);
        return apd_reply_error(rq, 400, "a model name (\"model\") is required");
    }
    if (!(p = apd_prov_get())) {
        json_decref(b);
        return apd_reply_error(rq, 500, "cannot open the store: %s",
                               ap_error_last()->message);
    }
    if (del) {
        ap_catalog *cat = ap_provisioner_catalog(p);
        rc = ap_catalog_get(cat, ref, &e);
        if (rc == AP_ENOTFOUND)
            rc = find_by_name(cat, body_name(b), &e);
        if (rc == AP_OK)
            rc = ap_catalog_remove(cat, e->id);
        res = rc == AP_OK ? apd_reply(rq, 200, json_object())
              : rc == AP_ENOTFOUND
                  ? apd_reply_error(rq, 404, "model '%s' not found", body_name(b))
                  : apd_reply_error(rq, 500, "model '%s': %s", body_name(b),
                                    ap_catalog_errmsg(cat));
        if (rc == AP_OK)
            apd_log("model %s removed (/api/delete %s)", e->id, body_name(b));
        ap_entry_free(e);
        json_decref(b);
        apd_prov_put(p);
        return res;
    }
    rc = ap_catalog_list(ap_provisioner_catalog(p), NULL, &list, &n);
    arr = json_array();
    for (i = 0; rc == AP_OK && i < n; i++) {
        char *name = list[i]->status == AP_ENTRY_READY ? entry_name(list[i]) : NULL;
        if (name)
            json_array_append_new(arr, tag_json(list[i], name));
        free(name);
    }
    ap_entry_list_free(list, n);
    apd_prov_put(p);
    return apd_reply(rq, 200, json_pack("{s:o}", "models", arr));
}

enum MHD_Result apd_route_ollama(apd_req *rq)
{
    if (strcmp(rq->url, "/api/pull") == 0)
        return apd_method(rq, "POST") ? pull(rq) : apd_not_allowed(rq, "POST");
    if (strcmp(rq->url, "/api/tags") == 0)
        return apd_method(rq, "GET") ? tags_or_delete(rq, 0) : apd_not_allowed(rq, "GET");
    if (strcmp(rq->url, "/api/delete") == 0)
        return apd_method(rq, "DELETE") ? tags_or_delete(rq, 1)
                                        : apd_not_allowed(rq, "DELETE");
    if (strcmp(rq->url, "/api/version") == 0)
        return apd_reply(rq, 200, json_pack("{s:s}", "version", ap_version()));
    return apd_reply_error(rq, 404, "no such resource: %.200s (apd serves /api/pull, "
                           "/api/tags and /api/delete of Ollama's API)", rq->url);
}
