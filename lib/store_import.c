/* libartifactprov — imports into the store: a file opened by the caller
 * hashed (sha256, and the git blob id when asked for) and placed by hard
 * link, reflink or copy (see store_internal.h, store.h).
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

/* The digests of an import: sha256, and the git blob id when asked for
 * (sha1 of "blob <size>\0" + bytes, so the size is needed first). */
typedef struct import_digests {
    apx_digest *sha, *git;
} import_digests;

static int digests_init(import_digests *d, int want_git, uint64_t size,
                        apx_error *err)
{
    d->git = NULL;
    if (!(d->sha = apx_digest_new(APX_SHA256)))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (!want_git)
        return AP_OK;
    if (!(d->git = apx_digest_new(APX_SHA1)))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    apx_digest_git_blob_head(d->git, size);
    return AP_OK;
}

static void digests_free(import_digests *d)
{
    apx_digest_free(d->sha);
    apx_digest_free(d->git);
}

/* Feed fd from offset 0 into d; when out_fd >= 0, write the bytes there
 * too (what is hashed is what is written).  *size gets the byte count. */
static int digests_feed(import_digests *d, int fd, int out_fd, uint64_t *size,
                        const char *label, apx_error *err)
{
    unsigned char *buf = apx_malloc(IO_BUF);
    uint64_t off = 0;
    int rc = AP_OK;
    if (!buf)
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    for (;;) {
        ssize_t r = pread(fd, buf, IO_BUF, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = apx_error_set(err, AP_EIO, "read '%s': %s", label,
                               strerror(errno));
            break;
        }
        if (r == 0)
            break;
        apx_digest_update(d->sha, buf, (size_t)r);
        if (d->git)
            apx_digest_update(d->git, buf, (size_t)r);
        if (out_fd >= 0 && apx_fs_write_all(out_fd, buf, (size_t)r) != 0) {
            rc = apx_error_set(err, apx_fs_io_status(errno), "import '%s': write: %s",
                               label, strerror(errno));
            break;
        }
        off += (uint64_t)r;
        /* the job's heartbeat, progress and cancel token (progress.h) */
        if ((rc = apx_tick((uint64_t)r)) != 0) {
            rc = apx_error_set(err, rc, "import '%s': %s", label,
                               rc == AP_ECANCELLED ? "cancelled" : "aborted");
            break;
        }
    }
    free(buf);
    *size = off;
    return rc;
}

/* Finish d and compare with what the caller expects. */
static int digests_check(import_digests *d, const char *label,
                         const char *expect_sha256, const char *expect_git,
                         char sha[65], char git[41], apx_error *err)
{
    apx_digest_final_hex(d->sha, sha);
    git[0] = '\0';
    if (d->git)
        apx_digest_final_hex(d->git, git);
    if (expect_sha256 && strcmp(sha, expect_sha256) != 0)
        return apx_error_set(err, AP_EDIGEST, "'%s': sha256 mismatch (want "
                             "%s, got %s)", label, expect_sha256, sha);
    if (expect_git && strcasecmp(git, expect_git) != 0)
        return apx_error_set(err, AP_EDIGEST, "'%s': git blob id mismatch "
                             "(want %s, got %s)", label, expect_git, git);
    return AP_OK;
}

/* The hard-link import (AP_IMPORT_LINK): hash the file, then link the
 * inode we opened and hashed.  1 when linked (or already there), 0 when
 * linking is impossible here (copy instead), < 0 on error. */
static int import_link(ap_store *s, int sfd, const struct stat *st,
                       const char *label, const char *expect_sha256,
                       const char *expect_git, int want_git, char sha[65],
                       char git[41])
{
    import_digests d;
    struct stat lst;
    char proc[64];
    uint64_t size = 0;
    int dfd = -1, lfd = -1, rc;

    if ((rc = digests_init(&d, want_git, (uint64_t)st->st_size,
                           &s->err)) ||
        (rc = digests_feed(&d, sfd, -1, &size, label, &s->err)) ||
        (rc = digests_check(&d, label, expect_sha256, expect_git, sha, git,
                            &s->err))) {
        digests_free(&d);
        return rc;
    }
    digests_free(&d);
    if (size != (uint64_t)st->st_size)
        return apx_error_set(&s->err, AP_EIO, "import '%s': the file changed "
                             "while it was read", label);
    if ((rc = apx_store_lock_name(s, sha, 0, &lfd)) != AP_OK)
        return rc;
    if ((dfd = rc = apx_store_blob_dir(s, sha, 1)) < 0)
        goto out;
    if ((rc = apx_store_blob_there(s, dfd, sha)) != 0)
        goto out;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", sfd);
    if (linkat(AT_FDCWD, proc, dfd, sha, AT_SYMLINK_FOLLOW) != 0) {
        rc = 0;             /* EXDEV, EPERM (protected_hardlinks)...: copy */
        goto out;
    }
    if (fstatat(dfd, sha, &lst, AT_SYMLINK_NOFOLLOW) != 0 ||
        lst.st_ino != st->st_ino || lst.st_dev != st->st_dev) {
        unlinkat(dfd, sha, 0);
        rc = apx_error_set(&s->err, AP_EIO, "import '%s': file replaced "
                           "while linking", label);
        goto out;
    }
    fsync(dfd);
    rc = 1;
out:
    if (dfd >= 0)
        close(dfd);
    apx_store_unlock_remove(s, sha, lfd);
    return rc;
}

/* The bytes of sfd into the temporary tfd, by reflink (FICLONE) where the
 * file system can, else by copy; hashed from what was placed and checked
 * against what is expected (sha, git: the digests). */
static int import_bytes(ap_store *store, int sfd, int tfd, const struct stat *st,
                        const char *label, const char *expect_sha256,
                        const char *expect_git, int want_git, char sha[65], char git[41])
{
    import_digests d = { NULL, NULL };
    uint64_t size = 0;
    int rc;

    if (ioctl(tfd, FICLONE, sfd) == 0) {
        struct stat cst;
        if (fstat(tfd, &cst) != 0) {
            rc = apx_error_set(&store->err, AP_EIO, "import '%s': %s", label,
                               strerror(errno));
            goto out;
        }
        if ((rc = digests_init(&d, want_git, (uint64_t)cst.st_size,
                                 &store->err)) ||
            (rc = digests_feed(&d, tfd, -1, &size, label, &store->err)))
            goto out;
    } else {
        if ((rc = digests_init(&d, want_git, (uint64_t)st->st_size,
                                 &store->err)) ||
            (rc = digests_feed(&d, sfd, tfd, &size, label, &store->err)))
            goto out;
        if (size != (uint64_t)st->st_size) {
            rc = apx_error_set(&store->err, AP_EIO, "import '%s': the file "
                               "changed while it was copied", label);
            goto out;
        }
    }
    rc = digests_check(&d, label, expect_sha256, expect_git, sha, git, &store->err);
out:
    digests_free(&d);
    return rc;
}

/* The temporary <tdir>/<tmp> becomes the blob <sha>, under the blob's lock
 * (*lfd, and *dfd its directory: the caller closes them).  0 when placed,
 * 1 when the blob was there already (the temporary stays), < 0 on error. */
static int place_blob(ap_store *store, int tdir, const char *tmp, int tfd, mode_t mode,
                      const char *sha, const char *label, int *dfd, int *lfd)
{
    int rc;
    if ((rc = apx_store_lock_name(store, sha, 0, lfd)) != AP_OK)
        return rc;
    if ((*dfd = rc = apx_store_blob_dir(store, sha, 1)) < 0)
        return rc;
    if ((rc = apx_store_blob_there(store, *dfd, sha)) != 0)
        return rc;                          /* 1: already stored */
    if (renameat2(tdir, tmp, *dfd, sha, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if ((e == EINVAL || e == ENOSYS) && renameat(tdir, tmp, *dfd, sha) == 0)
            e = 0;
        else if (e == EINVAL || e == ENOSYS)
            e = errno;
        if (e == EXDEV) {
            rc = apx_fs_copy_atomic(tfd, *dfd, sha, mode, sha, NULL,
                                    &store->err);
            if (rc != AP_OK)
                return rc;
            e = 0;
            unlinkat(tdir, tmp, 0);
        }
        if (e == EEXIST)
            return 1;
        if (e != 0)
            return apx_error_set(&store->err, apx_fs_io_status(e), "import '%s': "
                                 "rename: %s", label, strerror(e));
    }
    fsync(*dfd);
    return 0;
}

int apx_store_import_fd(ap_store *store, int sfd, const char *label,
                        const char *expect_sha256, const char *expect_git,
                        unsigned flags, char sha_out[65], char git_out[41])
{
    struct stat st;
    char tmp[64], sha[65], git[41];
    mode_t mode;
    int tdir = -1, tfd = -1, dfd = -1, lfd = -1, rc, want_git;

    if (!apx_store_ok(store) || sfd < 0)
        return AP_EINVAL;
    if (!label)
        label = "(file)";
    if (expect_sha256 && !apx_is_sha256_hex(expect_sha256))
        return apx_store_bad_hex(store, expect_sha256);
    want_git = expect_git || git_out;
    if (fstat(sfd, &st) != 0 || !S_ISREG(st.st_mode))
        return apx_error_set(&store->err, AP_EIO, "import '%s': not a regular "
                             "file", label);
    if (flags & AP_IMPORT_LINK) {
        rc = import_link(store, sfd, &st, label, expect_sha256, expect_git,
                         want_git, sha, git);
        if (rc < 0)
            return rc;
        if (rc == 1)
            goto done;
    }
    /* A blob of our own: a reflink (FICLONE) of the file when the file
     * system can, else a copy, hashed from what was placed, through a
     * temporary name in staging/ (same file system as blobs/, and gc
     * removes it when a crash leaves it there). */
    if ((tdir = rc = apx_fs_opendir_at(store->root_fd, "staging", 1,
                                       &store->err)) < 0)
        goto out;
    apx_fs_tmpname(tmp, sizeof tmp);
    tfd = openat(tdir, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0600);
    if (tfd < 0) {
        rc = apx_error_set(&store->err, apx_fs_io_status(errno), "import '%s': create "
                           "%s/staging/%s: %s", label, store->root, tmp,
                           strerror(errno));
        goto out;
    }
    if ((rc = import_bytes(store, sfd, tfd, &st, label, expect_sha256, expect_git,
                           want_git, sha, git)) != AP_OK)
        goto fail;
    /* Never more readable than the file it came from (a private file
     * stays private); read-only like every blob. */
    mode = (mode_t)(0444 & (st.st_mode | 0400));
    if (fchmod(tfd, mode) != 0 || fsync(tfd) != 0) {
        rc = apx_error_set(&store->err, apx_fs_io_status(errno), "import '%s': sync: "
                           "%s", label, strerror(errno));
        goto fail;
    }
    if ((rc = place_blob(store, tdir, tmp, tfd, mode, sha, label, &dfd, &lfd)) == 0)
        goto done;
fail:
    unlinkat(tdir, tmp, 0);
    if (rc < 0)
        goto out;
done:
    if (sha_out)
        memcpy(sha_out, sha, 65);
    if (git_out)
        memcpy(git_out, git, 41);
    rc = AP_OK;
out:
    if (tfd >= 0)
        close(tfd);
    if (tdir >= 0)
        close(tdir);
    if (dfd >= 0)
        close(dfd);
    apx_store_unlock_remove(store, sha, lfd);
    return rc;
}

AP_EXPORT int ap_store_import(ap_store *store, const char *path,
                              const char *expected_sha256, unsigned flags,
                              char out_sha256[AP_SHA256_HEX_LEN + 1])
{
    int sfd, rc;

    if (!apx_store_ok(store) || !path)
        return AP_EINVAL;
    if (expected_sha256 && !apx_is_sha256_hex(expected_sha256))
        return apx_store_bad_hex(store, expected_sha256);
    if ((sfd = apx_fs_open_regular(path, NULL, &store->err)) < 0) {
        apx_error_prefix(&store->err, "import");
        return sfd;
    }
    rc = apx_store_import_fd(store, sfd, path, expected_sha256, NULL, flags,
                             out_sha256, NULL);
    close(sfd);
    return rc;
}
