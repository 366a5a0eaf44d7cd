/* apd — HTTP on libmicrohttpd: one thread per connection, the request's
 * body gathered, checked (auth.c), routed, answered and logged.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

apd_state G;

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

static enum MHD_Result route(apd_req *rq)
{
    if (strcmp(rq->url, "/healthz") == 0 || strncmp(rq->url, "/v1/", 4) == 0)
        return apd_route_v1(rq);
    if (strncmp(rq->url, "/api/", 5) == 0)
        return apd_route_ollama(rq);
    return apd_reply_error(rq, 404, "no such resource: %.200s", rq->url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **ctx)
{
    apd_req *rq = *ctx;
    enum MHD_Result res = MHD_YES;
    (void)cls;
    (void)version;
    if (!rq) {
        const char *cl;
        if (!(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        rq->conn = conn;
        rq->method = method;
        rq->url = url;
        rq->t0 = apd_now_ms();
        *ctx = rq;
        if (!apd_auth_check(rq, &res))
            return res;
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > APD_MAX_BODY)
            return apd_reply_error(rq, 413, "the request body is larger than %d bytes",
                                   APD_MAX_BODY);
        return MHD_YES;
    }
    if (*data_size) {
        if (!rq->too_big && rq->body_len + *data_size <= APD_MAX_BODY) {
            char *b = realloc(rq->body, rq->body_len + *data_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + rq->body_len, data, *data_size);
            rq->body = b;
            rq->body_len += *data_size;
            b[rq->body_len] = '\0';
        } else {
            rq->too_big = 1;
        }
        *data_size = 0;
        return MHD_YES;
    }
    return route(rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    apd_req *rq = *ctx;
    (void)cls;
    (void)conn;
    if (!rq)
        return;
    apd_log("%s %s %u %llu ms%s", rq->method, rq->url, rq->status,
            (unsigned long long)(apd_now_ms() - rq->t0),
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
            : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? " (client went away)"
            : toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? " (shutdown)"
            : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timeout)"
                                                            : " (ended early)");
    free(rq->body);
    free(rq);
    *ctx = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[1024];
    size_t n;
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    apd_log("http: %s", msg);
}

struct MHD_Daemon *apd_http_start(int listen_fd, unsigned max_conns)
{
    return MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
            MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, NULL,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
        MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, max_conns,
        /* an idle or stuck connection is dropped after 30 s (event
         * streams write a keepalive every 15 s) */
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_END);
}
