/* apd — a job's events as a stream: server-sent events for /v1 (the
 * library's event JSON, ap_job_event_to_json) or Ollama's newline-
 * delimited progress for /api/pull.  The connection's own thread waits in
 * ap_jobs_events(); a client that reads nothing stalls only its thread.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

typedef struct stream {
    struct MHD_Connection *conn;
    ap_job_id id;
    uint64_t seq;
    enum apd_stream_kind kind;
    int fin;
    char *pend;               /* formatted, not yet handed to MHD */
    size_t plen, poff;
    uint64_t last_write;
    char *last_line;          /* NDJSON: repeated as a keepalive */
} stream;

int apd_client_gone(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd p;
    char ch;
    if (!ci)
        return 0;
    p.fd = ci->connect_fd;
    p.events = POLLIN | POLLRDHUP;
    p.revents = 0;
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP))
        return 1;
    return recv(p.fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void append(stream *s, const char *text)
{
    size_t n = strlen(text);
    char *b;
    if (s->poff == s->plen)
        s->poff = s->plen = 0;
    if (!(b = realloc(s->pend, s->plen + n + 1)))
        return;
    memcpy(b + s->plen, text, n + 1);
    s->pend = b;
    s->plen += n;
}

/* One NDJSON line (object stolen). */
static void line(stream *s, json_t *o)
{
    char *t = o ? apd_dump(o) : NULL;
    json_decref(o);
    if (!t)
        return;
    append(s, t);
    append(s, "\n");
    free(s->last_line);
    s->last_line = t;
}

static json_t *ollama_file_line(const char *file, const char *sha256, uint64_t total,
                                uint64_t completed);

/* The files of the job's entry as Ollama's layers: "pulling <12 hex>"
 * with the digest and the size, complete. */
static void ollama_layers(stream *s)
{
    ap_entry *e = NULL;
    size_t i;
    if (ap_jobs_entry(G.jobs, s->id, &e) != AP_OK)
        return;
    for (i = 0; i < ap_entry_file_count(e); i++) {
        const ap_entry_file *f = ap_entry_file_at(e, i);
        if (f->sha256)
            line(s, ollama_file_line(f->name, f->sha256, f->size, f->size));
    }
    ap_entry_free(e);
}

/* A file's line, as ollama pulls a layer: "pulling <12 hex>" with
 * "digest": "sha256:<hex>", its total and completed bytes.  A file whose
 * digest is not known before its bytes (a Hugging Face file without an LFS
 * sha256) is named by its path: "pulling <path>", "digest": "<path>" (the
 * ollama clients take any digest string; docs/daemon.md). */
static json_t *ollama_file_line(const char *file, const char *sha256, uint64_t total,
                                uint64_t completed)
{
    char st[600], dg[600];
    if (sha256) {
        snprintf(st, sizeof st, "pulling %.12s", sha256);
        snprintf(dg, sizeof dg, "sha256:%.500s", sha256);
    } else {
        snprintf(st, sizeof st, "pulling %.500s", file);
        snprintf(dg, sizeof dg, "%.500s", file);
    }
    return json_pack("{s:o, s:o, s:I, s:I}", "status", apd_jstr(st), "digest",
                     apd_jstr(dg), "total", (json_int_t)total, "completed",
                     (json_int_t)completed);
}

/* An event in Ollama's shape: while the job runs, each file's PROGRESS
 * and FILE_DONE events as its layer's line (above), so files that download
 * in parallel interleave and each line's completed grows; once done,
 * every file of the entry as a complete layer (those already in the store
 * too), "verifying sha256 digest", "writing manifest", "success"; or
 * {"error": ...}. */
static void ollama_event(stream *s, const ap_job_event *ev)
{
    const ap_progress *p = &ev->progress;
    if (ev->kind == AP_EVENT_ERROR || ev->kind == AP_EVENT_CANCELLED) {
        line(s, json_pack("{s:o}", "error", apd_jstr(ev->message ? ev->message
                                                                 : "cancelled")));
        return;
    }
    if (ev->kind == AP_EVENT_DONE) {
        ollama_layers(s);
        line(s, json_pack("{s:s}", "status", "verifying sha256 digest"));
        line(s, json_pack("{s:s}", "status", "writing manifest"));
        line(s, json_pack("{s:s}", "status", "success"));
        return;
    }
    if ((ev->kind != AP_EVENT_PROGRESS && ev->kind != AP_EVENT_FILE_DONE) || !p->file ||
        !p->file_total || p->file_done > p->file_total)
        return;
    line(s, ollama_file_line(p->file, AP_PROGRESS_HAS(p, file_sha256) ? p->file_sha256
                                                                        : NULL,
                             p->file_total, p->file_done));
}

static void sse_event(stream *s, const ap_job_event *ev)
{
    char *data = NULL, *msg = NULL;
    if (ap_job_event_to_json(ev, &data) == AP_OK &&
        asprintf(&msg, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", ev->seq,
                 ap_event_kind_name(ev->kind), data) >= 0) {
        append(s, msg);
        free(msg);
    }
    ap_free(data);
}

/* Wait up to 500 ms for events and format them; 1 when something was. */
static int pull_events(stream *s)
{
    ap_job_event ev[32];
    size_t got = 0, k;
    ev[0].struct_size = sizeof ev[0];
    if (ap_jobs_events(G.jobs, s->id, s->seq, 500, ev, 32, &got) != AP_OK) {
        s->fin = 1; /* forgotten meanwhile */
        return 0;
    }
    for (k = 0; k < got && !s->fin; k++) {
        s->seq = ev[k].seq;
        if (s->kind == APD_SSE)
            sse_event(s, &ev[k]);
        else
            ollama_event(s, &ev[k]);
        s->fin = ev[k].final;
    }
    ap_job_events_clear(ev, got);
    if (!got) {
        ap_job_info info = AP_JOB_INFO_INIT;
        if (ap_jobs_info(G.jobs, s->id, &info) == AP_OK && info.state >= AP_JOB_DONE &&
            s->seq >= info.last_seq)
            s->fin = 1;
        ap_job_info_clear(&info);
    }
    return got > 0;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream *s = cls;
    (void)pos;
    for (;;) {
        if (s->poff < s->plen) {
            size_t n = s->plen - s->poff < max ? s->plen - s->poff : max;
            memcpy(buf, s->pend + s->poff, n);
            s->poff += n;
            s->last_write = apd_now_ms();
            return (ssize_t)n;
        }
        if (s->fin)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (atomic_load(&G.stop) &&
            apd_now_ms() - (uint64_t)atomic_load(&G.stop_ms) > APD_STOP_GRACE_MS)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (pull_events(s) || s->fin)
            continue;
        if (apd_client_gone(s->conn))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (apd_now_ms() - s->last_write >= APD_KEEPALIVE_MS) {
            if (s->kind == APD_SSE)
                append(s, ": keepalive\n\n");
            else if (s->last_line) {
                append(s, s->last_line);
                append(s, "\n");
            }
            s->last_write = apd_now_ms();
        }
    }
}

/* Streams open, so that a stop lets them deliver their final event. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t open_cv = PTHREAD_COND_INITIALIZER;
static unsigned n_open;

void apd_streams_drain(unsigned timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&open_mu);
    while (n_open && pthread_cond_timedwait(&open_cv, &open_mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&open_mu);
}

static void free_stream(void *cls)
{
    stream *s = cls;
    pthread_mutex_lock(&open_mu);
    if (--n_open == 0)
        pthread_cond_broadcast(&open_cv);
    pthread_mutex_unlock(&open_mu);
    free(s->pend);
    free(s->last_line);
    free(s);
}

enum MHD_Result apd_stream_events(apd_req *rq, ap_job_id id, uint64_t after,
                                  enum apd_stream_kind kind)
{
    stream *s = calloc(1, sizeof *s);
    if (!s)
        return apd_reply_error(rq, 500, "out of memory");
    pthread_mutex_lock(&open_mu);
    n_open++;
    pthread_mutex_unlock(&open_mu);
    s->conn = rq->conn;
    s->id = id;
    s->seq = after;
    s->kind = kind;
    s->last_write = apd_now_ms();
    if (kind == APD_NDJSON)
        line(s, json_pack("{s:s}", "status", "pulling manifest"));
    return apd_reply_stream(rq, kind == APD_SSE ? "text/event-stream"
                                                : "application/x-ndjson",
                            reader, s, free_stream);
}
