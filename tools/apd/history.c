/* apd — job history that survives a restart: one JSON document per job in
 * the state directory (<store root>/apd-jobs by default), written when
 * the job is submitted, when it starts and when it ends (state, final
 * progress, error, entry id, and the request, so that it can be resumed).
 * A job that was queued or running when apd stopped is "interrupted".
 * Each document is written (temp file, rename) under its own lock only:
 * a slow disk delays that job's records, never a request.
 * Only the last `keep` finished jobs (apd --history N) are kept: when a
 * job ends, and once at start, older finished ones leave memory and the
 * directory.
 * SPDX-License-Identifier: MIT */
#include "apd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct rec {
    ap_job_id id;
    json_t *j;                 /* under mu */
    unsigned refs;             /* under mu: writers using it (never pruned then) */
    pthread_mutex_t wmu;       /* one writer of this document at a time */
} rec;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rec **recs;
static size_t nrecs, caprecs;
static char *hdir;
static size_t keep = APD_HISTORY_DEFAULT;

static rec *find(ap_job_id id)
{
    size_t i;
    for (i = nrecs; i-- > 0;)
        if (recs[i]->id == id)
            return recs[i];
    return NULL;
}

/* Under mu: the record of id, made when missing (ids only grow). */
static rec *get_or_add(ap_job_id id)
{
    rec *r = find(id);
    if (r)
        return r;
    if (nrecs == caprecs) {
        size_t nc = caprecs ? 2 * caprecs : 64;
        rec **nr = realloc(recs, nc * sizeof *nr);
        if (!nr)
            return NULL;
        recs = nr;
        caprecs = nc;
    }
    if (!(r = calloc(1, sizeof *r)))
        return NULL;
    r->id = id;
    r->j = json_pack("{s:I, s:s, s:s}", "job_id", (json_int_t)id, "operation",
                     "model_download", "state", "queued");
    pthread_mutex_init(&r->wmu, NULL);
    /* keep the array sorted by id */
    {
        size_t k = nrecs;
        while (k > 0 && recs[k - 1]->id > id) {
            recs[k] = recs[k - 1];
            k--;
        }
        recs[k] = r;
    }
    nrecs++;
    return r;
}

static void rec_path(const rec *r, char *path, size_t n)
{
    snprintf(path, n, "%s/%llu.json", hdir, (unsigned long long)r->id);
}

/* Caller holds r->wmu, not mu. */
static void write_rec(rec *r, const char *text)
{
    char path[4096], tmp[4096];
    int fd;
    size_t len = strlen(text);
    rec_path(r, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s/.%llu.json.tmp", hdir, (unsigned long long)r->id);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) != 0 ||
        rename(tmp, path) != 0) {
        apd_log("job %llu: cannot write its history to %s: %s",
                (unsigned long long)r->id, path, strerror(errno));
        if (fd >= 0)
            unlink(tmp);
    }
}

static int is_finished(const rec *r)
{
    const char *st = json_string_value(json_object_get(r->j, "state"));
    return st && strcmp(st, "queued") != 0 && strcmp(st, "running") != 0;
}

/* Forget the finished jobs beyond the last `keep` (the lowest ids first),
 * in memory and on disk; records a writer holds stay until the next
 * prune. */
static void prune(void)
{
    rec **gone = NULL;
    size_t i, k, finished = 0, ngone = 0;
    char path[4096];
    pthread_mutex_lock(&mu);
    for (i = 0; i < nrecs; i++)
        finished += is_finished(recs[i]);
    if (finished > keep && (gone = malloc((finished - keep) * sizeof *gone))) {
        for (i = k = 0; i < nrecs; i++) {
            rec *r = recs[i];
            if (finished > keep && is_finished(r) && !r->refs) {
                gone[ngone++] = r;
                finished--;
            } else {
                recs[k++] = r;
            }
        }
        nrecs = k;
    }
    pthread_mutex_unlock(&mu);
    for (i = 0; i < ngone; i++) {
        rec_path(gone[i], path, sizeof path);
        if (unlink(path) != 0 && errno != ENOENT)
            apd_log("history: cannot remove %s: %s", path, strerror(errno));
        json_decref(gone[i]->j);
        pthread_mutex_destroy(&gone[i]->wmu);
        free(gone[i]);
    }
    if (ngone)
        apd_log("history: %zu finished job%s pruned (--history %zu)", ngone,
                ngone == 1 ? "" : "s", keep);
    free(gone);
}

/* Update the record of id with `update` (members replaced, stolen) and
 * write it. */
static void store_ex(ap_job_id id, json_t *update, int write);
static void store(ap_job_id id, json_t *update)
{
    store_ex(id, update, 1);
}

static void store_ex(ap_job_id id, json_t *update, int write)
{
    rec *r;
    char *text = NULL;
    int fin;
    if (!hdir || !update) {
        json_decref(update);
        return;
    }
    pthread_mutex_lock(&mu);
    if ((r = get_or_add(id)))
        r->refs++;
    pthread_mutex_unlock(&mu);
    if (!r) {
        json_decref(update);
        return;
    }
    pthread_mutex_lock(&r->wmu);
    pthread_mutex_lock(&mu);
    json_object_update(r->j, update);
    if (write)
        text = json_dumps(r->j, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    fin = is_finished(r);
    pthread_mutex_unlock(&mu);
    json_decref(update);
    if (text)
        write_rec(r, text);
    pthread_mutex_unlock(&r->wmu);
    pthread_mutex_lock(&mu);
    r->refs--;
    pthread_mutex_unlock(&mu);
    free(text);
    if (write && fin)
        prune();
}

void apd_history_submitted(ap_job_id id, const json_t *request)
{
    json_t *u = json_pack("{s:O, s:O, s:I}", "ref", json_object_get(request, "ref"),
                          "request", request, "submitted", (json_int_t)time(NULL));
    store(id, u);
}

static void interrupted(json_t *j)
{
    json_object_set_new(j, "state", json_string("interrupted"));
    json_object_set_new(j, "error", json_string("apd stopped while the job was running; "
                                                "POST /v1/jobs/ID/resume resumes it"));
}

/* The registry's sink: the record follows the job's state. */
int apd_history_sink(const ap_event *ev, void *user)
{
    ap_job_info info = AP_JOB_INFO_INIT;
    char was[16] = "";
    int final;
    rec *r;
    (void)user;
    pthread_mutex_lock(&mu);
    r = find(ev->job_id);
    if (r && json_string_value(json_object_get(r->j, "state")))
        snprintf(was, sizeof was, "%s", json_string_value(json_object_get(r->j, "state")));
    pthread_mutex_unlock(&mu);
    final = ev->kind == AP_EVENT_DONE || ev->kind == AP_EVENT_ERROR ||
            ev->kind == AP_EVENT_CANCELLED;
    if (*was && strcmp(was, "queued") != 0 && !final)
        return 0; /* nothing changed */
    if (ap_jobs_info(G.jobs, ev->job_id, &info) != AP_OK)
        return 0;
    {
        json_t *j = apd_job_json(&info);
        /* cancelled by apd's own stop: interrupted, to be resumed */
        if (j && info.state == AP_JOB_CANCELLED && atomic_load(&G.stop)) {
            interrupted(j);
            apd_log("job %llu interrupted (apd is stopping; resumable)",
                    (unsigned long long)info.id);
        } else if (info.state >= AP_JOB_DONE) {
            apd_log("job %llu %s%s%s", (unsigned long long)info.id,
                    ap_job_state_name(info.state),
                    info.message ? ": " : info.entry_id ? " " : "",
                    info.message ? info.message : info.entry_id ? info.entry_id : "");
        } else {
            apd_log("job %llu %s", (unsigned long long)info.id,
                    ap_job_state_name(info.state));
        }
        store(ev->job_id, j);
    }
    ap_job_info_clear(&info);
    return 0;
}

static json_t *public_copy(const rec *r)
{
    json_t *c = json_deep_copy(r->j);
    json_object_del(c, "request");
    return c;
}

json_t *apd_history_get(ap_job_id id)
{
    json_t *c = NULL;
    rec *r;
    pthread_mutex_lock(&mu);
    if ((r = find(id)))
        c = public_copy(r);
    pthread_mutex_unlock(&mu);
    return c;
}

json_t *apd_history_list(void)
{
    json_t *a = json_array();
    size_t i;
    pthread_mutex_lock(&mu);
    for (i = 0; i < nrecs; i++)
        json_array_append_new(a, public_copy(recs[i]));
    pthread_mutex_unlock(&mu);
    return a;
}

/* The request of a job that ended without its entry (interrupted, failed,
 * cancelled) and is not running now. */
json_t *apd_history_request(ap_job_id id)
{
    ap_job_info info = AP_JOB_INFO_INIT;
    json_t *c = NULL;
    const char *st;
    rec *r;
    if (ap_jobs_info(G.jobs, id, &info) == AP_OK && info.state < AP_JOB_DONE) {
        ap_job_info_clear(&info);
        return NULL;
    }
    ap_job_info_clear(&info);
    pthread_mutex_lock(&mu);
    if ((r = find(id)) && (st = json_string_value(json_object_get(r->j, "state"))) &&
        (strcmp(st, "interrupted") == 0 || strcmp(st, "failed") == 0 ||
         strcmp(st, "cancelled") == 0))
        c = json_deep_copy(json_object_get(r->j, "request"));
    pthread_mutex_unlock(&mu);
    return c;
}

/* Load the documents of `dir` (made when missing); a job that was queued
 * or running is marked interrupted; only the last `keep_finished` finished
 * ones stay.  *max_id: the highest id seen. */
int apd_history_open(const char *dir, size_t keep_finished, ap_job_id *max_id)
{
    DIR *d;
    struct dirent *de;
    *max_id = 0;
    keep = keep_finished;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        apd_log("cannot create the state directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!(hdir = strdup(dir)) || !(d = opendir(dir))) {
        apd_log("cannot read the state directory %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((de = readdir(d))) {
        char path[4096];
        json_t *j = NULL;
        ap_job_id id;
        const char *st;
        struct stat st_;
        if (de->d_name[0] == '.' || !strstr(de->d_name, ".json"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        /* a FIFO or device is never opened */
        if (lstat(path, &st_) != 0 || !S_ISREG(st_.st_mode) ||
            !(j = json_load_file(path, JSON_REJECT_DUPLICATES, NULL)) ||
            (id = (ap_job_id)json_integer_value(json_object_get(j, "job_id"))) == 0) {
            apd_log("history: %s is not a job record, skipped", path);
            json_decref(j);
            continue;
        }
        if (id > *max_id)
            *max_id = id;
        st = json_string_value(json_object_get(j, "state"));
        if (st && (strcmp(st, "queued") == 0 || strcmp(st, "running") == 0)) {
            interrupted(j);
            store(id, j);
            apd_log("job %llu: interrupted by the last stop (resumable)",
                    (unsigned long long)id);
        } else {
            store_ex(id, j, 0);
        }
    }
    closedir(d);
    prune();
    return 0;
}

void apd_history_close(void)
{
    size_t i;
    for (i = 0; i < nrecs; i++) {
        json_decref(recs[i]->j);
        pthread_mutex_destroy(&recs[i]->wmu);
        free(recs[i]);
    }
    free(recs);
    recs = NULL;
    nrecs = caprecs = 0;
    free(hdir);
    hdir = NULL;
}
