/* apd — responses: JSON bodies (a job, a catalog entry, an error) with
 * tidy numbers and repaired text, status codes for library statuses, and
 * the request's JSON body read and checked.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int apd_method(const apd_req *rq, const char *m)
{
    return strcmp(rq->method, m) == 0;
}

char *apd_dump(const json_t *j)
{
    /* 15 significant digits: 0.004, not 0.0040000000000000001 */
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
}

json_t *apd_jstr(const char *s)
{
    char *fixed;
    json_t *j = s ? json_string(s) : json_null();
    if (j)
        return j;
    /* bytes that are not UTF-8 (a server's text may carry them) become
     * U+FFFD rather than losing the whole object */
    j = (fixed = ap_utf8_repair(s)) ? json_string(fixed) : NULL;
    ap_free(fixed);
    return j ? j : json_null();
}

unsigned apd_http_code(int status)
{
    switch (status) {
    case AP_ENOTFOUND: return 404;
    case AP_EINVAL: return 400;
    case AP_EBUSY: return 503;
    default: return 500;
    }
}

static enum MHD_Result queue(apd_req *rq, unsigned code, struct MHD_Response *r,
                             const char *ctype)
{
    enum MHD_Result res;
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (code == 401)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    rq->status = code;
    res = MHD_queue_response(rq->conn, code, r);
    MHD_destroy_response(r);
    return res;
}

static enum MHD_Result reply_allow(apd_req *rq, unsigned code, json_t *body,
                                   const char *allow)
{
    char *text = body ? apd_dump(body) : NULL;
    struct MHD_Response *r;
    json_decref(body);
    if (text) {
        size_t n = strlen(text);
        char *t2 = realloc(text, n + 2);
        if (t2) {
            text = t2;
            memcpy(text + n, "\n", 2);
        }
    }
    r = MHD_create_response_from_buffer(text ? strlen(text) : 0, text,
                                        text ? MHD_RESPMEM_MUST_FREE
                                             : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    return queue(rq, code, r, "application/json");
}

enum MHD_Result apd_reply_json_text(apd_req *rq, unsigned code, char *text, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    return queue(rq, code, r, "application/json");
}

enum MHD_Result apd_reply(apd_req *rq, unsigned code, json_t *body)
{
    return reply_allow(rq, code, body, NULL);
}

enum MHD_Result apd_reply_error(apd_req *rq, unsigned code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return apd_reply(rq, code, json_pack("{s:o}", "error", apd_jstr(msg)));
}

enum MHD_Result apd_not_allowed(apd_req *rq, const char *allow)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s is not allowed on %.150s (allowed: %s)",
             rq->method, rq->url, allow);
    return reply_allow(rq, 405, json_pack("{s:o}", "error", apd_jstr(msg)), allow);
}

enum MHD_Result apd_reply_stream(apd_req *rq, const char *ctype,
                                 MHD_ContentReaderCallback cb, void *cls,
                                 MHD_ContentReaderFreeCallback fr)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, cb, cls, fr);
    if (!r) {
        fr(cls);
        return MHD_NO;
    }
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return queue(rq, 200, r, ctype);
}

/* The body as a JSON object; NULL when answered (400, 413). */
json_t *apd_body_json(apd_req *rq, enum MHD_Result *res)
{
    json_error_t err;
    json_t *j;
    if (rq->too_big) {
        *res = apd_reply_error(rq, 413, "the request body is larger than %d bytes",
                               APD_MAX_BODY);
        return NULL;
    }
    j = json_loadb(rq->body ? rq->body : "", rq->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        *res = apd_reply_error(rq, 400, "bad JSON in the request body: %s (line %d)",
                               err.text, err.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *res = apd_reply_error(rq, 400, "the request body must be a JSON object");
        return NULL;
    }
    return j;
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

/* ap_free, as MHD's free callback */
static void free_doc(void *p)
{
    ap_free(p);
}

enum MHD_Result apd_reply_entries(apd_req *rq, ap_entry *const *list, size_t n,
                                  const char *member)
{
    char **docs = calloc(n ? n : 1, sizeof *docs), *buf = NULL, *p;
    size_t len = 0, i;
    struct MHD_Response *r;
    int bad = !docs;
    for (i = 0; !bad && i < n; i++) {
        bad = ap_entry_to_json(list[i], &docs[i]) != AP_OK;
        len += bad ? 0 : strlen(docs[i]) + 1;
    }
    if (!bad && !member && n == 1) { /* one entry: its document as it is */
        r = MHD_create_response_from_buffer_with_free_callback(strlen(docs[0]), docs[0],
                                                               free_doc);
        free(docs);
        return r ? queue(rq, 200, r, "application/json") : MHD_NO;
    }
    /* {"member":[DOC,DOC]}\n and its NUL: len counts a comma per document */
    if (!bad && member && (buf = malloc(strlen(member) + len + 10))) {
        p = buf + sprintf(buf, "{\"%s\":[", member);
        for (i = 0; i < n; i++) {
            size_t k = strlen(docs[i]);
            memcpy(p, docs[i], k);
            p += k;
            if (i + 1 < n)
                *p++ = ',';
        }
        p += sprintf(p, "]}\n");
    }
    for (i = 0; docs && i < n; i++)
        ap_free(docs[i]);
    free(docs);
    if (!buf)
        return apd_reply_error(rq, 500, "cannot write the catalog's entries as JSON: "
                               "out of memory");
    return apd_reply_json_text(rq, 200, buf, (size_t)(p - buf));
}

enum MHD_Result apd_reply_with_entry(apd_req *rq, unsigned code, json_t *body,
                                     ap_entry *e)
{
    char *head, *doc = NULL, *buf;
    size_t hn, dn;
    int n;
    if (!e || !body)
        return apd_reply(rq, code, body);
    head = apd_dump(body);
    json_decref(body);
    if (head && ap_entry_to_json(e, &doc) == AP_OK &&
        (hn = strlen(head)) >= 2 && head[hn - 1] == '}' &&
        (buf = malloc(hn + (dn = strlen(doc)) + 16))) {
        /* {...} becomes {...,"entry":DOC} */
        memcpy(buf, head, hn - 1);
        n = sprintf(buf + hn - 1, "%s\"entry\":", hn > 2 ? "," : "");
        memcpy(buf + hn - 1 + n, doc, dn);
        memcpy(buf + hn - 1 + n + dn, "}\n", 3);
        free(head);
        ap_free(doc);
        ap_entry_free(e);
        return apd_reply_json_text(rq, code, buf, hn - 1 + n + dn + 2);
    }
    free(head);
    ap_free(doc);
    ap_entry_free(e);
    return apd_reply_error(rq, 500, "cannot write the job as JSON: out of memory");
}
