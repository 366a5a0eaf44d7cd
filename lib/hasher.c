/* libartifactprov — the download engine's hasher thread: hashes each
 * file's contiguous written prefix from disk while the rest arrives.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t pread_full(int fd, unsigned char *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ------------------------------------------------------------------------
 * Hasher thread: hashes each file's contiguous written prefix from disk. */

void *hasher_main(void *arg)
{
    fetch *F = arg;
    unsigned char *buf = apx_malloc(HASH_BUF);
    size_t rr = 0;
    pthread_mutex_lock(&F->hmu);
    while (!F->h_stop) {
        ffile *ff = NULL;
        size_t k;
        uint64_t off, n;
        int fd;
        ssize_t r;
        for (k = 0; k < F->n; k++) {
            ffile *c = &F->files[(rr + k) % F->n];
            if (c->h_dead || c->h_err)
                continue;
            if (c->h_seen_gen != c->h_gen) {
                c->h_seen_gen = c->h_gen;
                c->h_hashed = 0;
                c->h_sha1_ok = 0;
                apx_digest_reset(c->sha256);
                if (c->sha1)
                    apx_digest_reset(c->sha1);
            }
            if (c->h_hashed < c->h_avail) {
                ff = c;
                rr = (rr + k) % F->n;
                break;
            }
        }
        if (!ff || !buf) {
            if (!buf && ff)
                ff->h_err = ENOMEM;
            pthread_cond_wait(&F->hcv, &F->hmu);
            continue;
        }
        off = ff->h_hashed;
        n = ff->h_avail - off;
        if (n > HASH_BUF)
            n = HASH_BUF;
        fd = ff->fd;
        if (off == 0 && ff->sha1 && ff->h_sha1_total != UNK) {
            apx_digest_reset(ff->sha1);
            apx_digest_git_blob_head(ff->sha1, ff->h_sha1_total);
            ff->h_sha1_ok = 1;
        }
        F->h_busy_file = (int)ff->idx;
        {
            unsigned gen = ff->h_seen_gen;
            int sha1_ok = ff->h_sha1_ok;
            pthread_mutex_unlock(&F->hmu);
            r = pread_full(fd, buf, (size_t)n, off);
            pthread_mutex_lock(&F->hmu);
            F->h_busy_file = -1;
            pthread_cond_broadcast(&F->hcv);
            if (ff->h_gen != gen || ff->h_dead)
                continue; /* reset meanwhile: the hasher starts over */
            if (r != (ssize_t)n) {
                ff->h_err = r < 0 ? errno : EIO;
            } else {
                apx_digest_update(ff->sha256, buf, (size_t)n);
                if (sha1_ok)
                    apx_digest_update(ff->sha1, buf, (size_t)n);
                ff->h_hashed += n;
            }
            if ((ff->h_err || ff->h_hashed == ff->h_total) && F->multi)
                curl_multi_wakeup(F->multi);
        }
    }
    pthread_mutex_unlock(&F->hmu);
    free(buf);
    return NULL;
}

/* Stop hashing a file; returns once the hasher does not touch it. */
void hasher_forget(fetch *F, ffile *ff)
{
    pthread_mutex_lock(&F->hmu);
    ff->h_dead = 1;
    while (F->h_busy_file == (int)ff->idx)
        pthread_cond_wait(&F->hcv, &F->hmu);
    pthread_mutex_unlock(&F->hmu);
}

/* The file's bytes are being replaced from zero. */
void hasher_reset(fetch *F, ffile *ff)
{
    pthread_mutex_lock(&F->hmu);
    ff->h_gen++;
    ff->h_avail = 0;
    ff->h_total = UNK;
    pthread_mutex_unlock(&F->hmu);
}

/* Publish contiguous prefixes (called once per loop iteration). */
void hasher_publish(fetch *F)
{
    size_t i;
    int wake = 0;
    pthread_mutex_lock(&F->hmu);
    for (i = 0; i < F->n; i++) {
        ffile *ff = &F->files[i];
        uint64_t avail;
        if (ff->done || ff->h_dead)
            continue;
        while (ff->prefix_range < ff->nranges &&
               ff->ranges[ff->prefix_range].state == RANGE_DONE)
            ff->prefix_range++;
        if (ff->prefix_range < ff->nranges) {
            const range *j = &ff->ranges[ff->prefix_range];
            avail = j->start + j->got;
        } else {
            avail = ff->nranges ? ff->ranges[ff->nranges - 1].end : 0;
        }
        if (avail == UNK)
            avail = 0;
        if (ff->prefix_range >= ff->nranges && ff->total != UNK)
            ff->h_total = ff->total;
        if (ff->h_sha1_total == UNK)
            ff->h_sha1_total = ff->total != UNK ? ff->total : ff->expect;
        if (avail > ff->h_avail) {
            ff->h_avail = avail;
            wake = 1;
        }
    }
    if (wake)
        pthread_cond_signal(&F->hcv);
    pthread_mutex_unlock(&F->hmu);
}
