/* libartifactprov — the engine's free-space checks: before a call starts
 * (every staging file system against the bytes still to come) and when a
 * server announces a size.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* The directory of path (apx_malloc'd; "." for a bare name). */
char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s)
        return apx_strdup(".");
    if (s == path)
        return apx_strdup("/");
    return apx_strndup(path, (size_t)(s - path));
}

/* Does a size announced by the server fit in the staging file system?
 * Checked before anything is allocated for it.  0, or ENOSPC with the
 * cause in why (n bytes). */
int check_announced(const ffile *ff, uint64_t total, const char *what,
                    char *why, size_t n)
{
    struct statvfs vf;
    struct stat st;
    uint64_t avail, alloc = 0, need;
    if (total == UNK || total == 0 || statvfs(ff->dir, &vf) != 0)
        return 0;
    if (ff->fd >= 0 && fstat(ff->fd, &st) == 0)
        alloc = (uint64_t)st.st_blocks * 512u;
    need = total > alloc ? total - alloc : 0;
    avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
    if (need > avail || avail - need < ff->F->o.min_free_bytes) {
        snprintf(why, n,
                 "the server announces %llu bytes (%s), more than the %llu "
                 "bytes of free space in %s (+%llu reserved)",
                 (unsigned long long)total, what,
                 (unsigned long long)avail, ff->dir,
                 (unsigned long long)ff->F->o.min_free_bytes);
        return ENOSPC;
    }
    return 0;
}

/* statvfs of each staging dir against the bytes still to come. */
int check_space(fetch *F, apx_error *err)
{
    size_t i, k;
    for (i = 0; i < F->n; i++) {
        struct stat st0;
        struct statvfs vf;
        uint64_t need = 0, avail;
        char *dir = dir_of(F->files[i].f->staging_path);
        int seen = 0, nneed = 0;
        const ffile *first = NULL;
        if (!dir)
            return apx_error_set(err, AP_ENOMEM, "out of memory");
        if (stat(dir, &st0) != 0 || statvfs(dir, &vf) != 0) {
            free(dir);
            continue;
        }
        for (k = 0; k < i && !seen; k++) {
            struct stat sk;
            char *dk = dir_of(F->files[k].f->staging_path);
            if (dk && stat(dk, &sk) == 0 && sk.st_dev == st0.st_dev)
                seen = 1;
            free(dk);
        }
        if (seen) {
            free(dir);
            continue;
        }
        for (k = i; k < F->n; k++) {
            ffile *ff = &F->files[k];
            struct stat sk, fs;
            char *dk = dir_of(ff->f->staging_path);
            uint64_t size = ff->total != UNK ? ff->total : ff->expect;
            if (dk && stat(dk, &sk) == 0 && sk.st_dev == st0.st_dev &&
                size != UNK) {
                uint64_t alloc = 0;
                if (ff->fd >= 0 && fstat(ff->fd, &fs) == 0)
                    alloc = (uint64_t)fs.st_blocks * 512u;
                if (size > alloc) {
                    uint64_t add = size - alloc;
                    need = need > UINT64_MAX - add ? UINT64_MAX : need + add;
                    if (!first)
                        first = ff;
                    nneed++;
                }
            }
            free(dk);
        }
        avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
        if (need > 0 && (need > avail ||
                         avail - need < F->o.min_free_bytes)) {
            char more[48] = "";
            if (nneed > 1)
                snprintf(more, sizeof more, " and %d more file%s",
                         nneed - 1, nneed > 2 ? "s" : "");
            apx_error_set(err, AP_ENOSPC,
                          "%s%s: not enough space in %s: need %llu bytes "
                          "(+%llu reserved), %llu available",
                          first ? flabel(first) : "download", more,
                          dir, (unsigned long long)need,
                          (unsigned long long)F->o.min_free_bytes,
                          (unsigned long long)avail);
            free(dir);
            return AP_ENOSPC;
        }
        free(dir);
    }
    return AP_OK;
}

/* The most bytes a body of unknown length may take: max_unknown_size, or
 * the free space of the staging file system less a reserve. */
void unknown_cap(const fetch *F, ffile *ff)
{
    struct statvfs vf;
    uint64_t avail = UNK, reserve = UNKNOWN_RESERVE + F->o.min_free_bytes;
    if (F->o.max_unknown_size) {
        ff->cap_unknown = F->o.max_unknown_size;
        return;
    }
    if (statvfs(ff->dir, &vf) == 0)
        avail = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
    /* On a small file system the reserve is a quarter of the free
     * space, so that it still takes small files of unknown length. */
    if (avail != UNK && avail / 4 < UNKNOWN_RESERVE)
        reserve = avail / 4 + F->o.min_free_bytes;
    ff->cap_unknown = avail == UNK ? UNK
                      : avail > reserve ? avail - reserve : 0;
    ff->cap_is_default = 1;
}
