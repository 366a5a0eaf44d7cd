/* apd — shared declarations of the daemon's files (docs/daemon.md).
 * SPDX-License-Identifier: MIT */
#ifndef APD_H
#define APD_H

#include <artifactprov.h>
#include <artifactprov/jobs.h>

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define APD_MAX_BODY 65536     /* request body */
#define APD_MAX_GLOBS 64
#define APD_KEEPALIVE_MS 15000 /* SSE comment when nothing happened */
#define APD_STOP_GRACE_MS 3000 /* streams' time to see their final event */

/* The daemon's state, set up by main.c before the server starts. */
typedef struct apd_state {
    ap_jobs *jobs;
    ap_vendor_set *vendors;         /* loaded once, shared by every provisioner */
    ap_provisioner_options po;      /* for the pool (pool.c) */
    unsigned heartbeat_ms;
    atomic_int stop;
    atomic_llong stop_ms;
    /* what the listening socket is bound to (auth.c) */
    char bound_host[256];           /* as given, brackets removed */
    char bound_addr[64];            /* the numeric address bound */
    int port;
    int any_host;                   /* bound to a wildcard address */
    int loopback;                   /* bound to a loopback address */
    unsigned char token_hash[32];   /* crypto_generichash of the token */
    int has_token;
} apd_state;

extern apd_state G;

/* One HTTP request (http.c). */
typedef struct apd_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;               /* percent-decoded path */
    char *body;                    /* NUL-terminated, may be NULL */
    size_t body_len;
    int too_big;
    int checked;                   /* auth.c passed */
    unsigned status;               /* status answered (for the log) */
    uint64_t t0;                   /* monotonic ms at the start */
} apd_req;

/* log.c: one terminal-safe line on stderr, "apd: ..." */
void apd_log(const char *fmt, ...) AP_PRINTF(1, 2);
uint64_t apd_now_ms(void);

/* reply.c: responses.  Each returns what the access handler returns. */
enum MHD_Result apd_reply(apd_req *rq, unsigned code, json_t *body);   /* steals */
/* A body that is JSON text already, text[len] (malloc'd; stolen). */
enum MHD_Result apd_reply_json_text(apd_req *rq, unsigned code, char *text, size_t len);
enum MHD_Result apd_reply_error(apd_req *rq, unsigned code, const char *fmt, ...)
    AP_PRINTF(3, 4);
enum MHD_Result apd_not_allowed(apd_req *rq, const char *allow);
enum MHD_Result apd_reply_stream(apd_req *rq, const char *ctype,
                                 MHD_ContentReaderCallback cb, void *cls,
                                 MHD_ContentReaderFreeCallback fr);
int apd_method(const apd_req *rq, const char *m);
json_t *apd_body_json(apd_req *rq, enum MHD_Result *res); /* NULL: answered */
char *apd_dump(const json_t *j);  /* compact, tidy numbers; free() */
json_t *apd_jstr(const char *s);  /* a string (invalid UTF-8 repaired) or null */
unsigned apd_http_code(int status);
struct MHD_Daemon *apd_http_start(int listen_fd, unsigned max_conns);

/* auth.c: Host, Origin, token and Content-Type checks; returns 1 when the
 * request may go on, 0 when it was answered. */
int apd_auth_check(apd_req *rq, enum MHD_Result *res);
int apd_auth_load_token(const char *path);

/* pool.c: provisioners for catalog and store calls, one per caller at a
 * time (a stuck call holds its own, never a lock). */
ap_provisioner *apd_prov_get(void);
void apd_prov_put(ap_provisioner *p);
void apd_prov_free_all(void);

/* submit.c: the jobs shared by /v1 and /api. */
typedef struct apd_submit {
    const char *ref;
    json_t *request;     /* the request as recorded in the history (borrowed) */
    const char **include, **exclude, **vendor_options;
    unsigned flags, heartbeat_ms, connections;
    uint64_t max_bytes_per_sec;
} apd_submit;
/* 0 with *id (a new job, or *existing = 1 and the running one of the same
 * reference); else answered on rq. */
int apd_submit_job(apd_req *rq, const apd_submit *s, ap_job_id *id, int *existing,
                   enum MHD_Result *res);
/* reply.c: a job as JSON; catalog entries as the library writes them. */
json_t *apd_job_json(const ap_job_info *i);
/* 200 with catalog entries as the library writes them (ap_entry_to_json:
 * an entry of 100,000 files is too big for a jansson tree): list[0] alone
 * when member is NULL, else {"member": [list...]}. */
enum MHD_Result apd_reply_entries(apd_req *rq, ap_entry *const *list, size_t n,
                                  const char *member);
/* body (stolen), with an "entry" member holding e's document appended as
 * text when e is not NULL (e is freed). */
enum MHD_Result apd_reply_with_entry(apd_req *rq, unsigned code, json_t *body,
                                     ap_entry *e);

/* sse.c: a job's events as a stream. */
enum apd_stream_kind { APD_SSE, APD_NDJSON };
enum MHD_Result apd_stream_events(apd_req *rq, ap_job_id id, uint64_t after,
                                  enum apd_stream_kind kind);
/* Wait until every stream has ended (at most timeout_ms). */
void apd_streams_drain(unsigned timeout_ms);
/* The client closed its side (fd of the connection). */
int apd_client_gone(struct MHD_Connection *c);

/* routes */
enum MHD_Result apd_route_v1(apd_req *rq);
enum MHD_Result apd_route_ollama(apd_req *rq);

/* history.c: job history kept across restarts. */
/* Finished jobs the history keeps by default (apd --history N). */
#define APD_HISTORY_DEFAULT 1000
int apd_history_open(const char *dir, size_t keep_finished, ap_job_id *max_id);
void apd_history_close(void);
void apd_history_submitted(ap_job_id id, const json_t *request);
int apd_history_sink(const ap_event *ev, void *user);
json_t *apd_history_get(ap_job_id id);      /* a copy, NULL when unknown */
json_t *apd_history_list(void);             /* array of copies, by id */
json_t *apd_history_request(ap_job_id id);  /* copy of a resumable request */

#endif
