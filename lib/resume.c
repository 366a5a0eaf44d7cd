/* libartifactprov — the download engine's resume state: the sidecar
 * (<staging>.state: what of the staging file is written and for which
 * content) and the syncer thread that makes it durable after the data.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"
#include "fault.h"
#include "fs.h"
#include "http_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write all of p at offset off (EINTR and short writes retried): 0, or
 * -1 with errno.  Not apx_fs_write_all: the ranges of a file are written
 * at their own offsets by one fd, so this is pwrite, not write. */
int pwrite_all(int fd, const char *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* open() for staging data and sidecars: never follows a symbolic link,
 * never blocks on a FIFO, refuses anything but a regular file (errno
 * ELOOP for a link, EINVAL for a FIFO, socket, device or directory).
 * Not apx_fs_open_regular{,_at}: those open for reading only and report
 * an ap_status, while staging files are opened read-write, created, and
 * file_prepare replaces a planted entry on ELOOP/EINVAL. */
int open_regular(const char *path, int flags, mode_t mode)
{
    struct stat st;
    int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
            (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    return fd;
}

/* ------------------------------------------------------------------------
 * Sidecar: <staging>.state, JSON:
 *   {"version":1,"validator":"..."|null,"etag":"\"...\""|null,
 *    "size":N,"done":[[start,end],...]}     end exclusive, sorted, merged */

char *sidecar_text(const ffile *ff)
{
    json_t *done = json_array(), *root;
    char *s = NULL;
    uint64_t cs = 0, ce = 0;
    int open_iv = 0;
    size_t i;
    if (!done)
        return NULL;
    for (i = 0; i < ff->nranges; i++) {
        const range *j = &ff->ranges[i];
        if (!j->got)
            continue;
        if (open_iv && ce == j->start) {
            ce = j->start + j->got;
        } else {
            if (open_iv)
                json_array_append_new(done, json_pack("[II]", (json_int_t)cs,
                                                      (json_int_t)ce));
            cs = j->start;
            ce = j->start + j->got;
            open_iv = 1;
        }
    }
    if (open_iv)
        json_array_append_new(done, json_pack("[II]", (json_int_t)cs,
                                              (json_int_t)ce));
    root = json_pack("{s:i,s:s?,s:s?,s:I,s:o}", "version", 1, "validator",
                     ff->validator, "etag", ff->etag, "size",
                     (json_int_t)ff->total, "done", done);
    if (root) {
        char *t = json_dumps(root, JSON_COMPACT);
        if (t) {
            s = apx_strdup(t);
            free(t);
        }
        json_decref(root);
    }
    return s;
}

/* Replace the sidecar at path by text: lib/fs.c's atomic write (a fresh
 * temporary file in the same directory, O_EXCL | O_NOFOLLOW, so nothing
 * planted there is followed; mode 0644; renamed over path) without its
 * fsync calls: the syncer fdatasync()s the data first, and a sidecar lost
 * to a crash only costs a fresh start, never wrong bytes. */
int sidecar_write(const char *path, const char *text)
{
    const char *slash;
    char *dir;
    int dfd, rc = -1;
    if (!path || !text) /* a name or text lost to an allocation failure */
        return -1;
    slash = strrchr(path, '/');
    dir = slash ? apx_strndup(path, (size_t)(slash - path + 1)) : apx_strdup(".");
    if (!dir)
        return -1;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (dfd < 0)
        return -1;
    if (apx_fs_write_atomic_nosync(dfd, slash ? slash + 1 : path, text,
                                   strlen(text), 0644, NULL) == AP_OK)
        rc = 0;
    close(dfd);
    APX_FAULT_IF(rc == 0, "sidecar");
    return rc;
}

/* Only a file whose size is known can be resumed. */
int sidecar_load(ffile *ff, uint64_t *size, json_t **done_out)
{
    json_error_t jerr;
    json_t *root = NULL, *done;
    json_t *jval = NULL, *jetag = NULL;
    const char *val = NULL, *etag = NULL;
    json_int_t sz = -1, version = 0;
    size_t i;
    uint64_t prev = 0;
    {
        int fd = open_regular(ff->state_path, O_RDONLY, 0);
        struct stat st;
        if (fd < 0)
            return -1;
        if (fstat(fd, &st) == 0 && st.st_size <= (off_t)SIDECAR_MAX)
            root = json_loadfd(fd, 0, &jerr);
        close(fd);
    }
    if (!root)
        return -1;
    if (json_unpack(root, "{s:I,s?o,s?o,s:I,s:o}", "version", &version,
                    "validator", &jval, "etag", &jetag, "size", &sz, "done",
                    &done) != 0 ||
        version != 1 || sz < 0 || !json_is_array(done))
        goto bad;
    val = json_string_value(jval);
    etag = json_string_value(jetag);
    if ((val == NULL) != (ff->validator == NULL) ||
        (val && strcmp(val, ff->validator) != 0))
        goto bad;
    if (ff->expect != UNK && (uint64_t)sz != ff->expect)
        goto bad;
    for (i = 0; i < json_array_size(done); i++) {
        json_int_t s, e;
        if (json_unpack(json_array_get(done, i), "[II]", &s, &e) != 0 ||
            s < (json_int_t)prev || e <= s || (uint64_t)e > (uint64_t)sz)
            goto bad;
        prev = (uint64_t)e;
    }
    /* With a known digest the data belongs to the content, not to one
     * URL: another URL (a mirror, a re-signed CDN URL) has another ETag, and
     * the digest checks the assembled bytes in the end. */
    if (etag && apx_is_strong_etag(etag) && !ff->f->sha256)
        ff->etag = apx_strdup(etag);
    *size = (uint64_t)sz;
    *done_out = json_incref(done);
    json_decref(root);
    return 0;
bad:
    json_decref(root);
    return -1;
}

/* ------------------------------------------------------------------------
 * Syncer thread */

static void syncer_release_locked(syncer *sy, int *last)
{
    *last = --sy->refs == 0;
}

static void syncer_free(syncer *sy)
{
    size_t i;
    for (i = 0; i < sy->n; i++) {
        if (sy->files[i].fd >= 0)
            close(sy->files[i].fd);
        free(sy->files[i].state_path);
        free(sy->files[i].pending);
    }
    free(sy->files);
    pthread_mutex_destroy(&sy->mu);
    pthread_cond_destroy(&sy->cv);
    free(sy);
}

static void *syncer_main(void *arg)
{
    syncer *sy = arg;
    int last;
    pthread_mutex_lock(&sy->mu);
    while (!sy->stop) {
        size_t k, pick = sy->n;
        char *text;
        int fd;
        for (k = 0; k < sy->n; k++) {
            size_t i = (sy->rr + k) % sy->n;
            if (sy->files[i].pending && !sy->files[i].closed) {
                pick = i;
                break;
            }
        }
        if (pick == sy->n) {
            sy->busy = 0;
            pthread_cond_wait(&sy->cv, &sy->mu);
            continue;
        }
        sy->rr = pick + 1;
        text = sy->files[pick].pending;
        sy->files[pick].pending = NULL;
        fd = sy->files[pick].fd;
        sy->busy = 1;
        pthread_mutex_unlock(&sy->mu);
        (void)fdatasync(fd);
        pthread_mutex_lock(&sy->mu);
        if (!sy->files[pick].closed)
            (void)sidecar_write(sy->files[pick].state_path, text);
        free(text);
    }
    sy->busy = 0;
    syncer_release_locked(sy, &last);
    pthread_mutex_unlock(&sy->mu);
    if (last)
        syncer_free(sy);
    return NULL;
}

syncer *syncer_new(fetch *F)
{
    syncer *sy = apx_calloc(1, sizeof *sy);
    size_t i;
    if (!sy)
        return NULL;
    sy->files = apx_calloc(F->n, sizeof *sy->files);
    if (!sy->files) {
        free(sy);
        return NULL;
    }
    sy->n = F->n;
    for (i = 0; i < F->n; i++)
        sy->files[i].fd = -1;
    pthread_mutex_init(&sy->mu, NULL);
    pthread_cond_init(&sy->cv, NULL);
    sy->refs = 1;
    return sy;
}

void syncer_start(syncer *sy)
{
    sy->refs = 2;
    if (pthread_create(&sy->th, NULL, syncer_main, sy) == 0)
        sy->started = 1;
    else
        sy->refs = 1;
}

/* Post a snapshot (takes ownership of text). */
void syncer_post(syncer *sy, ffile *ff, char *text)
{
    sync_file *s = &sy->files[ff->sync_idx];
    if (!sy->started) { /* no thread: do it inline */
        if (!s->closed && fdatasync(ff->fd) == 0)
            (void)sidecar_write(ff->state_path, text);
        free(text);
        return;
    }
    pthread_mutex_lock(&sy->mu);
    if (s->closed) {
        free(text);
    } else {
        free(s->pending);
        s->pending = text;
        pthread_cond_signal(&sy->cv);
    }
    pthread_mutex_unlock(&sy->mu);
}

/* The syncer will never write this file's sidecar again. */
void syncer_close(syncer *sy, ffile *ff)
{
    sync_file *s = &sy->files[ff->sync_idx];
    pthread_mutex_lock(&sy->mu);
    s->closed = 1;
    free(s->pending);
    s->pending = NULL;
    pthread_mutex_unlock(&sy->mu);
}

/* End of apx_fetch: join an idle syncer, detach a busy one (it may be in
 * a long fdatasync; cancel must not wait for it). */
void syncer_finish(syncer *sy)
{
    int last;
    if (!sy)
        return;
    pthread_mutex_lock(&sy->mu);
    if (!sy->started) {
        pthread_mutex_unlock(&sy->mu);
        syncer_free(sy);
        return;
    }
    sy->stop = 1;
    pthread_cond_signal(&sy->cv);
    if (!sy->busy) {
        pthread_mutex_unlock(&sy->mu);
        pthread_join(sy->th, NULL);
        syncer_free(sy);
        return;
    }
    pthread_detach(sy->th);
    syncer_release_locked(sy, &last);
    pthread_mutex_unlock(&sy->mu);
    if (last)
        syncer_free(sy);
}
