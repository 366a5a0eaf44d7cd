/* apd — a small HTTP/1.1 daemon over the libartifactprov job registry.
 * SPDX-License-Identifier: MIT
 *
 *   apd [--listen HOST:PORT] [--port-file FILE] [--home DIR]
 *       [--vendor-path PATH] [--max-jobs N] [--max-conns N] [--heartbeat MS]
 *
 * Endpoints (JSON in and out; see docs/daemon.md):
 *   POST   /jobs               {"ref": "...", "include": [...], "exclude": [...]}
 *                              -> 202 {"id": N}
 *   GET    /jobs               all jobs the registry remembers
 *   GET    /jobs/N             one job (state, bytes, rate, eta, error, entry)
 *   GET    /jobs/N/events      text/event-stream, ends after the final event
 *   DELETE /jobs/N, POST /jobs/N/cancel
 *   GET    /entries, /entries/ID   the catalog
 *   GET    /healthz
 *
 * Plain sockets and one thread per connection (bounded); every response
 * closes its connection.  SIGTERM or SIGINT: stop accepting, cancel the
 * jobs, let event streams deliver their final event, join, exit 0.
 * Environment: AP_HOME (store root), AP_VENDOR_PATH, HF_ENDPOINT, HF_TOKEN. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <artifactprov.h>
#include <artifactprov/jobs.h>

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER 16384          /* request line + headers */
#define MAX_BODY 65536            /* request body */
#define MAX_GLOBS 64
#define HEADER_TIMEOUT_MS 10000   /* whole request must arrive within this */
#define SEND_TIMEOUT_S 10         /* a client that reads nothing is dropped */
#define KEEPALIVE_MS 15000        /* SSE comment when nothing happened */
#define STOP_GRACE_MS 3000        /* streams' time to see their final event */

typedef struct conn_slot {
    pthread_t th;
    int fd;
    int used;
    atomic_int finished;
} conn_slot;

static ap_jobs *g_jobs;
static ap_provisioner *g_prov;         /* catalog reads, under g_prov_mu */
static pthread_mutex_t g_prov_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_sigpipe[2] = { -1, -1 };
static atomic_int g_stop;
static atomic_llong g_stop_ms;
static unsigned g_heartbeat_ms = 1000;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t w = write(g_sigpipe[1], &c, 1);
    (void)w;
    errno = saved;
}

/* Length of the valid UTF-8 sequence at s (C1 controls refused when
 * no_c1), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, int no_c1)
{
    unsigned cp, need, i;
    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xC2)
        return 0;
    if (s[0] < 0xE0)
        cp = s[0] & 0x1Fu, need = 1;
    else if (s[0] < 0xF0)
        cp = s[0] & 0x0Fu, need = 2;
    else if (s[0] < 0xF5)
        cp = s[0] & 0x07u, need = 3;
    else
        return 0;
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
        (no_c1 && cp >= 0x80 && cp <= 0x9F))
        return 0;
    return need + 1;
}

/* The daemon's text output (its log on stderr) is terminal-safe: C0 and
 * C1 controls, DEL and invalid UTF-8 in a message (which may quote a
 * server) are written as visible escapes (\x1b, \n), once, here. */
static void logf_(const char *fmt, ...) AP_PRINTF(1, 2);
static void logf_(const char *fmt, ...)
{
    char raw[2048], out[8192];
    const unsigned char *p = (const unsigned char *)raw;
    size_t o = 0, k;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    while (*p && o + 8 < sizeof out) {
        if (*p >= 0x20 && *p != 0x7F && (k = utf8_len(p, 1)) > 0) {
            memcpy(out + o, p, k);
            o += k;
            p += k;
        } else {
            o += (size_t)snprintf(out + o, sizeof out - o, *p == '\n' ? "\\n"
                                  : *p == '\t' ? "\\t" : "\\x%02x", *p);
            p++;
        }
    }
    out[o] = '\0';
    fprintf(stderr, "apd: %s\n", out);
}

/* ---- output -------------------------------------------------------------- */

static int send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    }
    return "Status";
}

/* Send a complete response with a JSON body (stolen reference). */
static void respond(int fd, int code, json_t *body, const char *extra)
{
    char head[512];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t len = text ? strlen(text) : 0;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                     "Connection: close\r\n%s\r\n",
                     code, reason(code), len + 1, extra ? extra : "");
    if (n > 0 && (size_t)n < sizeof head && send_all(fd, head, (size_t)n) == 0 && text)
        if (send_all(fd, text, len) == 0)
            (void)send_all(fd, "\n", 1);
    free(text);
    json_decref(body);
}

static json_t *jstr(const char *s);
static void respond_error(int fd, int code, const char *fmt, ...) AP_PRINTF(3, 4);
static void respond_error(int fd, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    respond(fd, code, json_pack("{s:o}", "error", jstr(msg)), NULL);
}

/* HTTP status for a library status. */
static int http_code(int status)
{
    switch (status) {
    case AP_ENOTFOUND: return 404;
    case AP_EINVAL: return 400;
    case AP_EBUSY: return 503;
    default: return 500;
    }
}

/* ---- JSON views ------------------------------------------------------------ */

/* A JSON string of s; bytes that are not valid UTF-8 (a server's text may
 * carry them, and jansson refuses them, which would lose the whole
 * object) become U+FFFD.  NULL → null. */
static json_t *jstr(const char *s)
{
    json_t *j;
    char *fixed;
    const unsigned char *p;
    size_t o = 0, k;
    if (!s)
        return json_null();
    if ((j = json_string(s)))
        return j;
    if (!(fixed = malloc(strlen(s) * 3 + 1)))
        return NULL;
    for (p = (const unsigned char *)s; *p;) {
        if ((k = utf8_len(p, 0)) > 0) {
            memcpy(fixed + o, p, k);
            o += k;
            p += k;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        }
    }
    fixed[o] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

static json_t *jnum_or_null(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static json_t *job_json(const ap_job_info *i)
{
    const ap_progress *p = &i->progress;
    return json_pack("{s:I, s:o, s:s, s:i, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I,"
                     " s:i, s:i, s:o, s:f, s:o, s:f, s:f, s:I, s:I, s:I, s:I, s:I}",
                     "id", (json_int_t)i->id,
                     "ref", jstr(i->ref),
                     "state", ap_job_state_name(i->state),
                     "status", i->status,
                     "error", jstr(i->message),
                     "entry_id", jstr(i->entry_id),
                     "file", jstr(p->file),
                     "phase", jstr(p->phase),
                     "bytes_done", (json_int_t)p->bytes_done,
                     "bytes_total", (json_int_t)p->bytes_total,
                     "file_done", (json_int_t)p->file_done,
                     "file_total", (json_int_t)p->file_total,
                     "files_done", (int)p->files_done,
                     "files_total", (int)p->files_total,
                     "percent", jnum_or_null(p->percent),
                     "rate", p->rate,
                     "eta", jnum_or_null(p->eta),
                     "elapsed", p->elapsed,
                     "idle", p->idle,
                     "fetched_bytes", (json_int_t)p->fetched_bytes,
                     "last_seq", (json_int_t)i->last_seq,
                     "submitted", (json_int_t)i->submitted,
                     "started", (json_int_t)i->started,
                     "finished", (json_int_t)i->finished);
}

static json_t *entry_json(const ap_entry *e)
{
    char *text = NULL;
    json_t *j = NULL;
    if (ap_entry_to_json(e, &text) == AP_OK)
        j = json_loads(text, 0, NULL);
    ap_free(text);
    return j ? j : json_null();
}

/* ---- request --------------------------------------------------------------- */

typedef struct request {
    char method[16];
    char path[2048];     /* percent-decoded, without the query */
    char query[1024];
    char *body;          /* NUL-terminated, may be NULL */
    size_t body_len;
    long long content_length; /* -1 when absent */
    uint64_t last_event_id;
    int expect_continue;
    int chunked;
} request;

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode src[0..n) into dst (size dstsz); -1 on bad input. */
static int pct_decode(const char *src, size_t n, char *dst, size_t dstsz)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            int h, l;
            if (i + 2 >= n)
                return -1;
            h = hexval(src[i + 1]);
            l = hexval(src[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (c == 0 || k + 1 >= dstsz)
            return -1;
        dst[k++] = (char)c;
    }
    dst[k] = '\0';
    return 0;
}

/* Wait until fd is readable, in slices that notice a stop; 0 on timeout. */
static int wait_readable(int fd, uint64_t deadline)
{
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        uint64_t now = now_ms();
        int r, slice;
        if (now >= deadline || atomic_load(&g_stop))
            return 0;
        slice = deadline - now > 200 ? 200 : (int)(deadline - now);
        r = poll(&p, 1, slice);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int header_is(const char *line, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    line += n + 1;
    while (*line == ' ' || *line == '\t')
        line++;
    *value = line;
    return 1;
}

/* Read and parse one request.  Returns 0, or an HTTP status to answer
 * with (-1: say nothing, the client went away). */
static int read_request(int fd, request *rq)
{
    char *buf = malloc(MAX_HEADER + 1), *end = NULL, *line, *next, *sp1, *sp2, *q;
    size_t used = 0, hlen, have;
    uint64_t deadline = now_ms() + HEADER_TIMEOUT_MS;
    int code = 0;

    memset(rq, 0, sizeof *rq);
    rq->content_length = -1;
    if (!buf)
        return 500;
    while (!end) {
        ssize_t n;
        int w;
        if (used >= MAX_HEADER) {
            code = 431;
            goto out;
        }
        w = wait_readable(fd, deadline);
        if (w <= 0) {
            code = used ? 408 : -1;
            goto out;
        }
        n = recv(fd, buf + used, MAX_HEADER - used, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            code = -1;
            goto out;
        }
        used += (size_t)n;
        buf[used] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    hlen = (size_t)(end - buf) + 4;
    *end = '\0';
    /* request line */
    next = strstr(buf, "\r\n");
    if (next)
        *next = '\0';
    sp1 = strchr(buf, ' ');
    sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || (size_t)(sp1 - buf) >= sizeof rq->method || sp1 == buf) {
        code = 400;
        goto out;
    }
    if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        code = 505;
        goto out;
    }
    memcpy(rq->method, buf, (size_t)(sp1 - buf));
    *sp2 = '\0';
    q = strchr(sp1 + 1, '?');
    if (q) {
        snprintf(rq->query, sizeof rq->query, "%s", q + 1);
        *q = '\0';
    }
    if (sp1[1] != '/' || pct_decode(sp1 + 1, strlen(sp1 + 1), rq->path, sizeof rq->path)) {
        code = 400;
        goto out;
    }
    /* headers */
    for (line = next ? next + 2 : NULL; line && *line; line = next) {
        const char *v;
        next = strstr(line, "\r\n");
        if (next) {
            *next = '\0';
            next += 2;
        }
        if (header_is(line, "Content-Length", &v)) {
            char *e;
            long long cl = strtoll(v, &e, 10);
            if (*v < '0' || *v > '9' || *e || cl < 0) {
                code = 400;
                goto out;
            }
            rq->content_length = cl;
        } else if (header_is(line, "Transfer-Encoding", &v)) {
            rq->chunked = 1;
        } else if (header_is(line, "Expect", &v)) {
            rq->expect_continue = strcasecmp(v, "100-continue") == 0;
        } else if (header_is(line, "Last-Event-ID", &v)) {
            rq->last_event_id = strtoull(v, NULL, 10);
        }
    }
    if (rq->chunked) {
        code = 411; /* bodies must come with a Content-Length */
        goto out;
    }
    if (rq->content_length > MAX_BODY) {
        code = 413;
        goto out;
    }
    if (rq->content_length > 0) {
        size_t want = (size_t)rq->content_length;
        rq->body = malloc(want + 1);
        if (!rq->body) {
            code = 500;
            goto out;
        }
        have = used - hlen;
        if (have > want)
            have = want;
        memcpy(rq->body, buf + hlen, have);
        if (have < want && rq->expect_continue)
            (void)send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        while (have < want) {
            ssize_t n;
            int w = wait_readable(fd, deadline);
            if (w <= 0) {
                code = 408;
                goto out;
            }
            n = recv(fd, rq->body + have, want - have, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                code = -1;
                goto out;
            }
            have += (size_t)n;
        }
        rq->body[want] = '\0';
        rq->body_len = want;
    }
out:
    free(buf);
    return code;
}

/* "123" -> 123; 0 when not a job id. */
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

/* ---- handlers ---------------------------------------------------------------- */

static int method_is(const request *rq, const char *m)
{
    return strcmp(rq->method, m) == 0;
}

static void not_allowed(int fd, const char *allow)
{
    char h[128];
    snprintf(h, sizeof h, "Allow: %s\r\n", allow);
    respond(fd, 405, json_pack("{s:s}", "error", "method not allowed"), h);
}

/* Copy a JSON array of strings into a NULL-terminated vector of borrowed
 * strings.  0, or -1 with a message. */
static int globs_from(json_t *arr, const char *key, const char **out, char *err,
                      size_t errsz)
{
    size_t i;
    json_t *v;
    if (!arr || json_is_null(arr)) {
        out[0] = NULL;
        return 0;
    }
    if (!json_is_array(arr) || json_array_size(arr) > MAX_GLOBS) {
        snprintf(err, errsz, "'%s' must be an array of at most %d strings", key,
                 MAX_GLOBS);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || !json_string_length(v)) {
            snprintf(err, errsz, "'%s'[%zu] must be a non-empty string", key, i);
            return -1;
        }
        out[i] = json_string_value(v);
    }
    out[i] = NULL;
    return 0;
}

static void post_job(int fd, const request *rq)
{
    static const char *const known[] = { "ref", "include", "exclude", "force",
                                         "heartbeat_ms", "max_bytes_per_sec",
                                         "connections", NULL };
    ap_provision_options o = AP_PROVISION_OPTIONS_INIT;
    const char *inc[MAX_GLOBS + 1], *exc[MAX_GLOBS + 1], *key;
    json_error_t jerr;
    json_t *root, *v;
    char err[256], loc[64];
    ap_job_id id = 0;
    size_t i;
    int rc;

    if (!rq->body) {
        respond_error(fd, 400, "missing body: want {\"ref\": \"...\"}");
        return;
    }
    root = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        respond_error(fd, 400, "bad JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        respond_error(fd, 400, "the body must be a JSON object");
        return;
    }
    json_object_foreach(root, key, v) {
        for (i = 0; known[i] && strcmp(known[i], key) != 0; i++)
            ;
        if (!known[i]) {
            respond_error(fd, 400, "unknown member '%s'", key);
            json_decref(root);
            return;
        }
    }
    v = json_object_get(root, "ref");
    if (!json_is_string(v) || !json_string_length(v) ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        json_decref(root);
        respond_error(fd, 400, "'ref' must be a non-empty string");
        return;
    }
    if (globs_from(json_object_get(root, "include"), "include", inc, err, sizeof err) ||
        globs_from(json_object_get(root, "exclude"), "exclude", exc, err, sizeof err)) {
        json_decref(root);
        respond_error(fd, 400, "%s", err);
        return;
    }
    o.include = inc[0] ? inc : NULL;
    o.exclude = exc[0] ? exc : NULL;
    o.heartbeat_ms = g_heartbeat_ms;
    if ((v = json_object_get(root, "force")) && !json_is_boolean(v)) {
        json_decref(root);
        respond_error(fd, 400, "'force' must be true or false");
        return;
    }
    if (json_is_true(v))
        o.flags |= AP_PROVISION_FORCE;
    if ((v = json_object_get(root, "heartbeat_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 50 ||
            json_integer_value(v) > 600000) {
            json_decref(root);
            respond_error(fd, 400, "'heartbeat_ms' must be an integer in 50..600000");
            return;
        }
        o.heartbeat_ms = (unsigned)json_integer_value(v);
    }
    if ((v = json_object_get(root, "max_bytes_per_sec"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            json_decref(root);
            respond_error(fd, 400, "'max_bytes_per_sec' must be a non-negative integer");
            return;
        }
        o.max_bytes_per_sec = (uint64_t)json_integer_value(v);
    }
    if ((v = json_object_get(root, "connections"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > 64) {
            json_decref(root);
            respond_error(fd, 400, "'connections' must be an integer in 1..64");
            return;
        }
        o.max_connections = (unsigned)json_integer_value(v);
    }
    rc = ap_jobs_submit(g_jobs, json_string_value(json_object_get(root, "ref")), &o, &id);
    json_decref(root);
    if (rc != AP_OK) {
        respond_error(fd, http_code(rc), "%s", ap_error_last()->message);
        return;
    }
    snprintf(loc, sizeof loc, "Location: /jobs/%" PRIu64 "\r\n", id);
    respond(fd, 202, json_pack("{s:I, s:s}", "id", (json_int_t)id, "state", "queued"), loc);
}

static void get_jobs(int fd)
{
    ap_job_id *ids = NULL;
    size_t n = 0, i;
    json_t *arr = json_array();
    int rc = ap_jobs_list(g_jobs, &ids, &n);
    if (rc != AP_OK) {
        json_decref(arr);
        respond_error(fd, 500, "%s", ap_error_last()->message);
        return;
    }
    for (i = 0; i < n; i++) {
        ap_job_info info = AP_JOB_INFO_INIT;
        if (ap_jobs_info(g_jobs, ids[i], &info) != AP_OK)
            continue; /* forgotten meanwhile */
        json_array_append_new(arr, job_json(&info));
        ap_job_info_clear(&info);
    }
    ap_free(ids);
    respond(fd, 200, json_pack("{s:o}", "jobs", arr), NULL);
}

static void get_job(int fd, ap_job_id id, int code)
{
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_entry *e = NULL;
    json_t *j;
    int rc = ap_jobs_info(g_jobs, id, &info);
    if (rc != AP_OK) {
        respond_error(fd, http_code(rc), "%s", ap_error_last()->message);
        return;
    }
    j = job_json(&info);
    if (info.state == AP_JOB_DONE && ap_jobs_entry(g_jobs, id, &e) == AP_OK) {
        json_object_set_new(j, "entry", entry_json(e));
        ap_entry_free(e);
    }
    ap_job_info_clear(&info);
    respond(fd, code, j, NULL);
}

static void cancel_job(int fd, ap_job_id id)
{
    int rc = ap_jobs_cancel(g_jobs, id);
    if (rc != AP_OK) {
        respond_error(fd, http_code(rc), "%s", ap_error_last()->message);
        return;
    }
    get_job(fd, id, 202);
}

/* The client closed its side (nothing else is expected from it). */
static int client_gone(int fd)
{
    struct pollfd p = { fd, POLLIN | POLLRDHUP, 0 };
    char c;
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP))
        return 1;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void job_events(int fd, ap_job_id id, const request *rq)
{
    static const char head[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\n\r\n";
    ap_job_info info = AP_JOB_INFO_INIT;
    ap_job_event ev[32];
    uint64_t seq = rq->last_event_id, last_write = now_ms();
    const char *a = strstr(rq->query, "after=");
    int rc, fin = 0;

    if (a && (a == rq->query || a[-1] == '&'))
        seq = strtoull(a + 6, NULL, 10);
    rc = ap_jobs_info(g_jobs, id, &info);
    if (rc != AP_OK) {
        respond_error(fd, http_code(rc), "%s", ap_error_last()->message);
        return;
    }
    ap_job_info_clear(&info);
    if (send_all(fd, head, sizeof head - 1) != 0)
        return;
    while (!fin) {
        size_t got = 0, k;
        ev[0].struct_size = sizeof ev[0];
        rc = ap_jobs_events(g_jobs, id, seq, 500, ev, 32, &got);
        if (rc != AP_OK)
            break; /* forgotten meanwhile */
        for (k = 0; k < got; k++) {
            char *data = NULL; /* the library's event JSON, as apctl's */
            char *msg = NULL;
            int n;
            if (ap_job_event_to_json(&ev[k], &data) != AP_OK)
                data = NULL;
            n = data ? asprintf(&msg, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n",
                                ev[k].seq, ap_event_kind_name(ev[k].kind), data)
                     : -1;
            seq = ev[k].seq;
            fin |= ev[k].final;
            if (n < 0 || send_all(fd, msg, (size_t)n) != 0)
                fin = -1;
            free(msg);
            ap_free(data);
            if (fin < 0)
                break;
        }
        ap_job_events_clear(ev, got);
        if (fin)
            break;
        if (got)
            last_write = now_ms();
        if (client_gone(fd))
            break;
        if (!got && now_ms() - last_write >= KEEPALIVE_MS) {
            if (send_all(fd, ": keepalive\n\n", 13) != 0)
                break;
            last_write = now_ms();
        }
        if (atomic_load(&g_stop) &&
            now_ms() - (uint64_t)atomic_load(&g_stop_ms) > STOP_GRACE_MS)
            break;
    }
}

static void get_entries(int fd)
{
    ap_entry **list = NULL;
    size_t n = 0, i;
    json_t *arr;
    int rc;
    pthread_mutex_lock(&g_prov_mu);
    rc = ap_catalog_list(ap_provisioner_catalog(g_prov), NULL, &list, &n);
    pthread_mutex_unlock(&g_prov_mu);
    if (rc != AP_OK) {
        respond_error(fd, 500, "catalog: %s", ap_strerror(rc));
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, entry_json(list[i]));
    ap_entry_list_free(list, n);
    respond(fd, 200, json_pack("{s:o}", "entries", arr), NULL);
}

static void get_entry(int fd, const char *id)
{
    ap_entry *e = NULL;
    int rc;
    pthread_mutex_lock(&g_prov_mu);
    rc = ap_catalog_get(ap_provisioner_catalog(g_prov), id, &e);
    pthread_mutex_unlock(&g_prov_mu);
    if (rc != AP_OK) {
        respond_error(fd, http_code(rc), "entry '%s': %s", id, ap_strerror(rc));
        return;
    }
    respond(fd, 200, entry_json(e), NULL);
    ap_entry_free(e);
}

static void route(int fd, const request *rq)
{
    const char *p = rq->path;
    if (strcmp(p, "/healthz") == 0) {
        if (!method_is(rq, "GET")) {
            not_allowed(fd, "GET");
            return;
        }
        respond(fd, 200, json_pack("{s:s, s:s}", "status",
                                   atomic_load(&g_stop) ? "stopping" : "ok",
                                   "version", ap_version()), NULL);
        return;
    }
    if (strcmp(p, "/jobs") == 0 || strcmp(p, "/jobs/") == 0) {
        if (method_is(rq, "POST")) {
            post_job(fd, rq);
            return;
        }
        if (method_is(rq, "GET")) {
            get_jobs(fd);
            return;
        }
        not_allowed(fd, "GET, POST");
        return;
    }
    if (strncmp(p, "/jobs/", 6) == 0) {
        const char *s = p + 6, *slash = strchr(s, '/');
        ap_job_id id = parse_id(s, slash ? (size_t)(slash - s) : strlen(s));
        if (!id) {
            respond_error(fd, 404, "no such job: '%.64s'", s);
            return;
        }
        if (!slash) {
            if (method_is(rq, "GET")) {
                get_job(fd, id, 200);
                return;
            }
            if (method_is(rq, "DELETE")) {
                cancel_job(fd, id);
                return;
            }
            not_allowed(fd, "GET, DELETE");
            return;
        }
        if (strcmp(slash, "/events") == 0) {
            if (!method_is(rq, "GET")) {
                not_allowed(fd, "GET");
                return;
            }
            job_events(fd, id, rq);
            return;
        }
        if (strcmp(slash, "/cancel") == 0) {
            if (!method_is(rq, "POST")) {
                not_allowed(fd, "POST");
                return;
            }
            cancel_job(fd, id);
            return;
        }
    }
    if (strcmp(p, "/entries") == 0) {
        if (!method_is(rq, "GET")) {
            not_allowed(fd, "GET");
            return;
        }
        get_entries(fd);
        return;
    }
    if (strncmp(p, "/entries/", 9) == 0 && p[9]) {
        if (!method_is(rq, "GET")) {
            not_allowed(fd, "GET");
            return;
        }
        get_entry(fd, p + 9);
        return;
    }
    respond_error(fd, 404, "no such resource: %.200s", p);
}

/* ---- connections -------------------------------------------------------------- */

static void *conn_main(void *arg)
{
    conn_slot *c = arg;
    request rq;
    int code = read_request(c->fd, &rq);
    if (code > 0)
        respond_error(c->fd, code, "%s", reason(code));
    else if (code == 0)
        route(c->fd, &rq);
    free(rq.body);
    shutdown(c->fd, SHUT_WR);
    close(c->fd);
    atomic_store(&c->finished, 1);
    return NULL;
}

static void reap(conn_slot *slots, size_t n, int all)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (slots[i].used && (all || atomic_load(&slots[i].finished))) {
            pthread_join(slots[i].th, NULL);
            slots[i].used = 0;
        }
}

static int listen_on(const char *spec, int *port_out)
{
    char host[256], port[16];
    const char *colon = strrchr(spec, ':');
    struct addrinfo hints, *res = NULL, *ai;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    size_t hl;
    int fd = -1, one = 1, rc;

    if (!colon || colon == spec || strlen(colon + 1) >= sizeof port ||
        (size_t)(colon - spec) >= sizeof host) {
        logf_("bad --listen '%s' (want HOST:PORT)", spec);
        return -1;
    }
    hl = (size_t)(colon - spec);
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    snprintf(port, sizeof port, "%s", colon + 1);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        logf_("--listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        logf_("cannot listen on %s: %s", spec, strerror(errno));
        return -1;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port_out = ntohs(ss.ss_family == AF_INET6
                              ? ((struct sockaddr_in6 *)&ss)->sin6_port
                              : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    FILE *f;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: apd [--listen HOST:PORT] [--port-file FILE] [--home DIR]\n"
          "           [--vendor-path PATH] [--max-jobs N] [--max-conns N]\n"
          "           [--heartbeat MS]\n"
          "  --listen     address to serve (default 127.0.0.1:7420; port 0 picks one)\n"
          "  --port-file  write the port chosen to FILE once listening\n"
          "  --home       store root (default $AP_HOME, else the XDG cache)\n"
          "  --max-jobs   jobs running at once (default 4)\n"
          "  --max-conns  connections served at once (default 64)\n"
          "  --heartbeat  heartbeat interval of jobs, ms (default 1000)\n", f);
}

static int num_arg(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *e;
    unsigned long v = strtoul(s, &e, 10);
    if (!*s || *e || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_spec = "127.0.0.1:7420", *port_file = NULL;
    ap_provisioner_options po = AP_PROVISIONER_OPTIONS_INIT;
    ap_jobs_options jo = AP_JOBS_OPTIONS_INIT;
    unsigned max_conns = 64;
    conn_slot *slots;
    struct sigaction sa;
    sigset_t all, old;
    int lfd, port = 0, i, rc;

    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            bad = 1;
        } else if (strcmp(a, "--listen") == 0) {
            listen_spec = v;
        } else if (strcmp(a, "--port-file") == 0) {
            port_file = v;
        } else if (strcmp(a, "--home") == 0) {
            po.home = v;
        } else if (strcmp(a, "--vendor-path") == 0) {
            po.vendor_path = v;
        } else if (strcmp(a, "--max-jobs") == 0) {
            bad = num_arg(v, 1, 64, &jo.max_running);
        } else if (strcmp(a, "--max-conns") == 0) {
            bad = num_arg(v, 1, 4096, &max_conns);
        } else if (strcmp(a, "--heartbeat") == 0) {
            bad = num_arg(v, 50, 600000, &g_heartbeat_ms);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "apd: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    if (pipe2(g_sigpipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        logf_("pipe: %s", strerror(errno));
        return 1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = ap_global_init()) != AP_OK) {
        logf_("cannot initialise: %s", ap_error_last()->message);
        return 1;
    }
    rc = ap_provisioner_new(&g_prov, &po);
    if (rc != AP_OK) {
        logf_("%s", ap_error_last()->message); /* no handle: the thread's error */
        ap_global_cleanup();
        return 1;
    }
    rc = ap_jobs_new(&g_jobs, &po, &jo);
    if (rc != AP_OK) {
        logf_("%s", ap_error_last()->message);
        ap_provisioner_free(g_prov);
        ap_global_cleanup();
        return 1;
    }
    lfd = listen_on(listen_spec, &port);
    if (lfd < 0 || (port_file && write_port_file(port_file, port) != 0)) {
        if (lfd >= 0)
            logf_("cannot write the port file %s: %s", port_file, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        ap_jobs_free(g_jobs);
        ap_provisioner_free(g_prov);
        ap_global_cleanup();
        return 1;
    }
    logf_("listening on %s (port %d)", listen_spec, port);
    slots = calloc(max_conns, sizeof *slots);
    if (!slots) {
        close(lfd);
        ap_jobs_free(g_jobs);
        ap_provisioner_free(g_prov);
        ap_global_cleanup();
        return 1;
    }

    for (;;) {
        struct pollfd p[2] = { { lfd, POLLIN, 0 }, { g_sigpipe[0], POLLIN, 0 } };
        int r = poll(p, 2, 1000), cfd;
        size_t k;
        if (r < 0 && errno != EINTR)
            break;
        reap(slots, max_conns, 0);
        if (r <= 0)
            continue;
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        {
            struct timeval tv = { SEND_TIMEOUT_S, 0 };
            setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        for (k = 0; k < max_conns && slots[k].used; k++)
            ;
        if (k == max_conns) {
            respond_error(cfd, 503, "too many connections");
            close(cfd);
            continue;
        }
        slots[k].fd = cfd;
        atomic_store(&slots[k].finished, 0);
        /* Connection threads take no signals: the main thread does. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&slots[k].th, NULL, conn_main, &slots[k]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            respond_error(cfd, 503, "cannot serve now");
            close(cfd);
            continue;
        }
        slots[k].used = 1;
    }

    logf_("stopping");
    close(lfd);
    atomic_store(&g_stop_ms, (long long)now_ms());
    atomic_store(&g_stop, 1);
    ap_jobs_shutdown(g_jobs);  /* streams get their final events */
    reap(slots, max_conns, 1);
    free(slots);
    ap_jobs_free(g_jobs);
    ap_provisioner_free(g_prov);
    ap_global_cleanup();
    close(g_sigpipe[0]);
    close(g_sigpipe[1]);
    logf_("stopped");
    return 0;
}
