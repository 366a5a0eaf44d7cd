/* libartifactprov — verify and gc of the store: the walk over the blobs,
 * blob removal, the collection of unnamed blobs, temporary files and
 * staging files nobody can resume (see store.h, docs/store.md).
 * SPDX-License-Identifier: MIT */
#include "progress.h"
#include "internal.h"
#include "digest.h"
#include "fs.h"
#include "store_internal.h"
#include "store_priv.h"
#include "fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- verify and gc ------------------------------------------------------- */

typedef int (*blob_visit)(ap_store *s, int dfd, const char *sub,
                          const char *name, void *ctx);

/* Call visit for each committed blob (dfd = its blobs/sha256/<sub> dir);
 * temporary files found in blob directories go to tmp_visit. */
static int walk_blobs(ap_store *s, blob_visit visit, blob_visit tmp_visit,
                      void *ctx)
{
    int bfd = apx_fs_opendir_at(s->root_fd, "blobs/sha256", 1, &s->err);
    DIR *top;
    struct dirent *de;
    int rc = AP_OK;

    if (bfd < 0)
        return bfd;
    if (!(top = fdopendir(bfd))) {
        close(bfd);
        return apx_error_set(&s->err, AP_EIO, "blobs: %s", strerror(errno));
    }
    while (rc == AP_OK && (de = readdir(top)) != NULL) {
        DIR *sub;
        struct dirent *be;
        int sfd;
        const char *n = de->d_name;
        if (strlen(n) != 2 || !strchr("0123456789abcdef", n[0]) ||
            !strchr("0123456789abcdef", n[1]))
            continue;
        sfd = openat(dirfd(top), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                    O_CLOEXEC);
        if (sfd < 0 || !(sub = fdopendir(sfd))) {
            if (sfd >= 0)
                close(sfd);
            continue;
        }
        while (rc == AP_OK && (be = readdir(sub)) != NULL) {
            if (apx_is_sha256_hex(be->d_name) &&
                !strncmp(be->d_name, n, 2))
                rc = visit(s, dirfd(sub), n, be->d_name, ctx);
            else if (tmp_visit && !strncmp(be->d_name, ".ap-tmp-", 8))
                rc = tmp_visit(s, dirfd(sub), n, be->d_name, ctx);
        }
        closedir(sub);
    }
    closedir(top);
    return rc;
}

typedef struct verify_ctx {
    unsigned flags;
    ap_store_report_cb report;
    void *user;
    size_t checked, bad;
} verify_ctx;

static int verify_one(ap_store *s, int dfd, const char *sub,
                      const char *hex, void *p)
{
    verify_ctx *v = p;
    char got[65], *path;
    uint64_t size = 0;
    int fd, rc;

    fd = apx_fs_open_regular_at(dfd, hex, hex, NULL, NULL);
    if (fd == AP_ENOTFOUND)
        return AP_OK;                       /* removed meanwhile */
    if (fd >= 0) {
        rc = apx_fs_hash_fd(fd, got, &size, &s->err);
        close(fd);
        if (rc != AP_OK)
            return rc;
    } else {
        got[0] = '\0';   /* a FIFO, socket, device or link: corrupt */
    }
    v->checked++;
    if (!strcmp(got, hex))
        return AP_OK;
    v->bad++;
    path = apx_asprintf("%s/blobs/sha256/%.2s/%s", s->root, hex, hex);
    if (!path)
        return AP_ENOMEM;
    if (v->flags & AP_VERIFY_REMOVE) {
        int lfd;
        if (apx_store_lock_name(s, hex, 0, &lfd) == AP_OK) {
            unlinkat(dfd, hex, 0);
            fsync(dfd);
            apx_store_unlock_remove(s, hex, lfd);
        }
    }
    rc = AP_OK;
    if (v->report && v->report("corrupt", path, size, v->user) != 0)
        rc = apx_error_set(&s->err, AP_EUSER, "verify: stopped by callback");
    free(path);
    return rc;
}

AP_EXPORT int ap_store_verify(ap_store *store, unsigned flags,
                              ap_store_report_cb report, void *user,
                              size_t *n_checked, size_t *n_bad)
{
    verify_ctx v;
    int rc;
    if (n_checked)
        *n_checked = 0;
    if (n_bad)
        *n_bad = 0;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    v.flags = flags;
    v.report = report;
    v.user = user;
    v.checked = v.bad = 0;
    rc = walk_blobs(store, verify_one, NULL, &v);
    if (n_checked)
        *n_checked = v.checked;
    if (n_bad)
        *n_bad = v.bad;
    return rc;
}

/* Both locks a blob may be held under ("<hex>" by commit/import,
 * "blob-<hex>" by a downloader), without waiting: AP_EBUSY when either is
 * held. */
static int lock_blob_nb(ap_store *s, const char *hex, int *fd1, int *fd2)
{
    char name[80];
    int rc = apx_store_lock_name(s, hex, 1, fd1);
    *fd2 = -1;
    if (rc != AP_OK)
        return rc;
    snprintf(name, sizeof name, "blob-%s", hex);
    if ((rc = apx_store_lock_name(s, name, 1, fd2)) != AP_OK) {
        apx_store_unlock_remove(s, hex, *fd1);
        *fd1 = -1;
    }
    return rc;
}

/* Release both (their files go: gc and remove leave no lock file). */
static void unlock_blob(ap_store *s, const char *hex, int fd1, int fd2)
{
    char name[80];
    snprintf(name, sizeof name, "blob-%s", hex);
    apx_store_unlock_remove(s, name, fd2);
    apx_store_unlock_remove(s, hex, fd1);
}

AP_EXPORT int ap_store_remove_blob(ap_store *store, const char *sha256_hex)
{
    int dfd, l1, l2, rc;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    if (!apx_is_sha256_hex(sha256_hex))
        return apx_store_bad_hex(store, sha256_hex);
    if ((rc = lock_blob_nb(store, sha256_hex, &l1, &l2)) != AP_OK)
        return rc;
    dfd = apx_store_blob_dir(store, sha256_hex, 0);
    if (dfd < 0) {
        rc = dfd;
    } else {
        if (unlinkat(dfd, sha256_hex, 0) != 0)
            rc = apx_error_set(&store->err, errno == ENOENT ? AP_ENOTFOUND
                                                            : AP_EIO,
                               "remove blob %s: %s", sha256_hex,
                               strerror(errno));
        else
            fsync(dfd);
        close(dfd);
    }
    unlock_blob(store, sha256_hex, l1, l2);
    return rc;
}

typedef struct gc_ctx {
    const char **keep;
    size_t n_keep;
    int64_t cutoff;             /* files with mtime <= cutoff are stale */
    ap_store_report_cb report;
    void *user;
    uint64_t freed;
} gc_ctx;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int gc_report(ap_store *s, gc_ctx *g, const char *what, char *path,
                     uint64_t bytes)
{
    int rc = AP_OK;
    g->freed += bytes;
    if (path && g->report && g->report(what, path, bytes, g->user) != 0)
        rc = apx_error_set(&s->err, AP_EUSER, "gc: stopped by callback");
    free(path);
    return rc;
}

static int gc_blob(ap_store *s, int dfd, const char *sub, const char *hex,
                   void *p)
{
    gc_ctx *g = p;
    struct stat st;
    int lfd, lfd2, rc;

    if (g->n_keep && bsearch(&hex, g->keep, g->n_keep, sizeof *g->keep,
                             cmp_str))
        return AP_OK;
    rc = lock_blob_nb(s, hex, &lfd, &lfd2);
    if (rc == AP_EBUSY)
        return AP_OK;                   /* in use: skip */
    if (rc != AP_OK)
        return rc;
    if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        unlinkat(dfd, hex, 0) != 0) {
        unlock_blob(s, hex, lfd, lfd2);
        return AP_OK;
    }
    fsync(dfd);
    unlock_blob(s, hex, lfd, lfd2);
    return gc_report(s, g, "blob",
                     apx_asprintf("%s/blobs/sha256/%.2s/%s", s->root, hex,
                                  hex), (uint64_t)st.st_size);
}

static int is_stale(const struct stat *st, const gc_ctx *g)
{
    return (int64_t)st->st_mtime <= g->cutoff;
}

static int gc_tmp(ap_store *s, int dfd, const char *sub, const char *name,
                  void *p)
{
    gc_ctx *g = p;
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !is_stale(&st, g)
        || S_ISDIR(st.st_mode) || unlinkat(dfd, name, 0) != 0)
        return AP_OK;
    return gc_report(s, g, "tmp", apx_asprintf("%s/blobs/sha256/%s/%s", s->root,
                                                sub, name),
                     (uint64_t)st.st_size);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* A download's staging file ("<hex>.part") with no sidecar holds nothing a
 * later run can resume (the engine starts such a file over): the zero-byte
 * file a pull killed before its first byte, or one cut off before its
 * first sidecar.  It goes at any age once its staging lock is free (no
 * pull is writing it).  AP_OK or an error status. */
static int gc_unresumable(ap_store *s, gc_ctx *g, int dfd, const char *n,
                          const char *rel, const char *lock)
{
    struct stat st;
    int lfd = -1, rc = AP_OK;
    if (ap_store_trylock(s, lock, &lfd) != AP_OK)
        return AP_OK;      /* a pull holds it: its file, not a leftover */
    if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
        unlinkat(dfd, n, 0) == 0)
        rc = gc_report(s, g, "staging", apx_asprintf("%s/%s/%s", s->root, rel, n),
                       (uint64_t)st.st_size);
    apx_store_unlock_remove(s, lock, lfd);
    return rc;
}

/* A data file of staging/ and its sidecar ("<name>.state"), looked up
 * once: without a sidecar, a download's "<hex>.part" goes at once
 * (gc_unresumable); otherwise the data file and its sidecar go together
 * when both are stale (a sidecar touched recently means a live download). */
static int gc_staging_data(ap_store *s, gc_ctx *g, int dfd, const char *n,
                           const char *rel)
{
    struct stat st, sst;
    char lock[80], *sc = apx_asprintf("%s.state", n);
    int have_side;
    uint64_t bytes;
    if (!sc)
        return AP_ENOMEM;
    have_side = fstatat(dfd, sc, &sst, AT_SYMLINK_NOFOLLOW) == 0;
    if (!have_side && ends_with(n, ".part") && strlen(n) == 64 + 5 &&
        strspn(n, "0123456789abcdef") == 64 &&
        apx_store_stage_lock_name(n, lock) == AP_OK) {
        free(sc);
        return gc_unresumable(s, g, dfd, n, rel, lock);
    }
    if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode) ||
        !is_stale(&st, g) || (have_side && !is_stale(&sst, g))) {
        free(sc);
        return AP_OK;
    }
    bytes = (uint64_t)st.st_size;
    if (have_side && unlinkat(dfd, sc, 0) == 0)
        bytes += (uint64_t)sst.st_size;
    free(sc);
    if (unlinkat(dfd, n, 0) != 0)
        return AP_OK;
    return gc_report(s, g, "staging", apx_asprintf("%s/%s/%s", s->root, rel, n), bytes);
}

/* Stale files of staging/ (data file + sidecar, gc_staging_data) and
 * temporary files in catalog/. */
static int gc_dir(ap_store *s, gc_ctx *g, const char *rel, int staging)
{
    int dfd = apx_fs_opendir_at(s->root_fd, rel, 1, &s->err), rc = AP_OK;
    DIR *dir;
    struct dirent *de;
    int pass;

    if (dfd < 0)
        return dfd;
    if (!(dir = fdopendir(dfd))) {
        close(dfd);
        return apx_error_set(&s->err, AP_EIO, "%s: %s", rel, strerror(errno));
    }
    /* Pass 0: data files (with their sidecar); pass 1: orphan sidecars. */
    for (pass = 0; pass < 2 && rc == AP_OK; pass++) {
        rewinddir(dir);
        while (rc == AP_OK && (de = readdir(dir)) != NULL) {
            struct stat st, sst;
            const char *n = de->d_name;
            int side = ends_with(n, ".state");

            if (!strcmp(n, ".") || !strcmp(n, ".."))
                continue;
            if (!staging && strncmp(n, ".ap-tmp-", 8) != 0)
                continue;
            if (staging && side != pass)
                continue;
            if (staging && !side) {
                rc = gc_staging_data(s, g, dirfd(dir), n, rel);
                continue;
            }
            if (staging) {
                /* Sidecar whose data file still exists: handled (or kept)
                 * with the data file in pass 0. */
                char *data = apx_strndup(n, strlen(n) - 6);
                int live;
                if (!data)
                    return AP_ENOMEM;
                live = fstatat(dirfd(dir), data, &sst,
                               AT_SYMLINK_NOFOLLOW) == 0;
                free(data);
                if (live)
                    continue;
            }
            if (fstatat(dirfd(dir), n, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                S_ISDIR(st.st_mode) || !is_stale(&st, g) || unlinkat(dirfd(dir), n, 0) != 0)
                continue;
            rc = gc_report(s, g, staging ? "staging" : "tmp",
                           apx_asprintf("%s/%s/%s", s->root, rel, n), (uint64_t)st.st_size);
        }
    }
    closedir(dir);
    return rc;
}

AP_EXPORT int ap_store_gc(ap_store *store, const char *const *keep,
                          size_t n_keep, unsigned stale_seconds,
                          ap_store_report_cb report, void *user,
                          uint64_t *freed)
{
    gc_ctx g;
    size_t i;
    int rc;

    if (freed)
        *freed = 0;
    if (!apx_store_ok(store) || (n_keep && !keep))
        return AP_EINVAL;
    memset(&g, 0, sizeof g);
    if (n_keep) {
        if (!(g.keep = apx_calloc(n_keep, sizeof *g.keep)))
            return AP_ENOMEM;
        for (i = 0; i < n_keep; i++)
            if (keep[i])
                g.keep[g.n_keep++] = keep[i];
        qsort(g.keep, g.n_keep, sizeof *g.keep, cmp_str);
    }
    g.cutoff = apx_wall_s() - (int64_t)stale_seconds;
    g.report = report;
    g.user = user;
    rc = walk_blobs(store, gc_blob, gc_tmp, &g);
    if (rc == AP_OK)
        rc = gc_dir(store, &g, "staging", 1);
    if (rc == AP_OK)
        rc = gc_dir(store, &g, "catalog", 0);
    free(g.keep);
    if (freed)
        *freed = g.freed;
    return rc;
}
