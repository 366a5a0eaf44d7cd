/* libartifactprov — a file's start in the engine: its staging file,
 * resumed from a valid sidecar or started fresh, and its first ranges.
 * SPDX-License-Identifier: MIT */
#include "fetch.h"
#include "http_parse.h"
#include "http_request.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* The file's own copies of what the caller gave: URL, host, origin, name
 * for messages, sidecar path, validator, digests. */
static int file_strings(ffile *ff, apx_error *err)
{
    apx_fetch_file *f = ff->f;
    char u[512];
    if (!f->url || !f->staging_path)
        return apx_error_set(err, AP_EINVAL, "%s: url and staging path are "
                             "required", f->label ? f->label : "(file)");
    if (f->sha256 && (strlen(f->sha256) != 64 ||
                      strspn(f->sha256, "0123456789abcdefABCDEF") != 64))
        return apx_error_set(err, AP_EINVAL,
                             "%s: expected sha256 is not 64 hex digits",
                             flabel(ff));
    ff->url = apx_strdup(f->url);
    ff->host = apx_url_host(f->url, 1);
    ff->orig_origin = apx_url_origin(f->url);
    if (!f->label)
        ff->shown = apx_strdup(apx_url_msg(f->url, u, sizeof u));
    ff->state_path = apx_asprintf("%s.state", f->staging_path);
    if (f->validator)
        ff->validator = apx_strdup(f->validator);
    else if (f->sha256)
        ff->validator = apx_asprintf("sha256:%s", f->sha256);
    ff->sha256 = apx_digest_new(APX_SHA256);
    if (f->git_sha1)
        ff->sha1 = apx_digest_new(APX_SHA1);
    if (!ff->url || !ff->state_path || !ff->sha256 ||
        (f->git_sha1 && !ff->sha1) ||
        (f->validator && !ff->validator))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (!ff->host || !ff->orig_origin)
        return apx_error_set(err, AP_EINVAL, "%s: bad URL '%s'",
                             f->label ? f->label : "(file)",
                             apx_url_msg(f->url, u, sizeof u));
    return AP_OK;
}

/* Resume from the sidecar when it is valid and the staging file still
 * holds what it claims: its done ranges, the gaps between them to fetch.
 * Leaves ff->fd < 0 when there is nothing to resume. */
static int file_resume(ffile *ff, apx_error *err)
{
    uint64_t sz = UNK;
    json_t *done = NULL;
    size_t i;
    if (sidecar_load(ff, &sz, &done) != 0)
        return AP_OK;
    ff->fd = open_regular(ff->f->staging_path, O_RDWR, 0);
    if (ff->fd >= 0) {
        struct stat st;
        size_t nd = json_array_size(done);
        json_int_t last_end = 0;
        if (nd)
            json_unpack(json_array_get(done, nd - 1), "[_I]", &last_end);
        if (fstat(ff->fd, &st) != 0 || (uint64_t)st.st_size <
                                            (uint64_t)last_end) {
            close(ff->fd);
            ff->fd = -1;
        }
    }
    if (ff->fd >= 0) {
        for (i = 0; i < json_array_size(done); i++) {
            json_int_t s, e;
            json_unpack(json_array_get(done, i), "[II]", &s, &e);
            if (range_add(ff, (uint64_t)s, (uint64_t)e,
                        (uint64_t)(e - s), RANGE_DONE))
                break;
            ff->resumed += (uint64_t)(e - s);
        }
        ff->have = ff->resumed;
        ff->total = sz;
        ff->expect = ff->expect != UNK ? ff->expect : sz;
        if (fill_gaps(ff, sz)) {
            json_decref(done);
            return apx_error_set(err, AP_ENOMEM, "out of memory");
        }
        ff->mode = ff->resumed == sz ? M_RANGED : M_PROBE;
    } else {
        ff->nranges = 0;
        ff->resumed = 0;
        free(ff->etag);
        ff->etag = NULL;
    }
    json_decref(done);
    return AP_OK;
}

/* Open the staging path afresh: fd, or -1 with errno (EINVAL: something
 * that is not a regular file is there and cannot be replaced). */
static int open_fresh(const char *path)
{
    int fd = open_regular(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 && (errno == ELOOP || errno == EINVAL)) {
        /* A symbolic link, FIFO, socket or device was planted at the
         * staging path: the staging directory is ours, so the entry
         * goes (never what it points to) and a fresh regular file
         * takes its place; O_EXCL | O_NOFOLLOW so a second planting
         * in between is refused, not followed. */
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
            !S_ISDIR(st.st_mode) && unlink(path) == 0)
            fd = open_regular(path, O_RDWR | O_CREAT | O_EXCL, 0644);
        else
            errno = EINVAL;
    }
    return fd;
}

/* Nothing to resume: an empty staging file and the first range (the
 * probe, or one stream for an empty file). */
static int file_fresh(ffile *ff, apx_error *err)
{
    const char *path = ff->f->staging_path;
    unlink(ff->state_path);
    ff->fd = open_fresh(path);
    if (ff->fd < 0 && errno == EINVAL)
        return apx_error_set(err, AP_EIO,
                             "%s: staging path %s is not a regular "
                             "file and cannot be replaced",
                             flabel(ff), path);
    if (ff->fd < 0)
        return apx_error_set(err, AP_EIO, "%s: cannot open %s: %s",
                             flabel(ff), path, strerror(errno));
    ff->opened = 1;
    if (ftruncate(ff->fd, 0) != 0)
        return apx_error_set(err, AP_EIO, "%s: cannot truncate %s: %s",
                             flabel(ff), path, strerror(errno));
    if (ff->expect == 0) {
        ff->mode = M_STREAM;
        range_add(ff, 0, UNK, 0, RANGE_IDLE);
    } else {
        range_probe(ff);
    }
    return AP_OK;
}

int file_prepare(fetch *F, ffile *ff, apx_error *err)
{
    char *dir;
    int rc;
    ff->fd = -1;
    ff->expect = ff->f->size;
    ff->total = UNK;
    ff->h_total = UNK;
    ff->h_sha1_total = UNK;
    if ((rc = file_strings(ff, err)) != AP_OK)
        return rc;
    dir = dir_of(ff->f->staging_path);
    if (!dir || apx_mkdirs(dir) != AP_OK) {
        int e = errno;
        apx_error_set(err, AP_EIO, "%s: cannot create %s: %s", flabel(ff),
                      dir ? dir : "?", strerror(e));
        free(dir);
        return AP_EIO;
    }
    ff->dir = dir;
    unknown_cap(F, ff);
    if ((rc = file_resume(ff, err)) != AP_OK)
        return rc;
    if (ff->fd < 0 && (rc = file_fresh(ff, err)) != AP_OK)
        return rc;
    if (!ff->nranges && ff->total != 0)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    ff->gen_posted = ff->gen_progress = 0;
    return AP_OK;
}
