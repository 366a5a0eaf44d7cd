/* apd — HTTP on libmicrohttpd: one thread per connection, the request's
 * body gathered, checked (auth.c), routed, answered and logged.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
