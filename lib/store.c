/* libartifactprov — the content-addressed store (see store.h, docs/store.md).
 *
 * Every name that reaches the disk is validated; writes below the root go
 * through directory fds opened component by component with O_NOFOLLOW, so
 * a symlink planted in models/ (or in an HF cache) cannot redirect them.
 * Everything visible is created under a temporary name and renamed into
 * place; committed blobs are read-only and never rewritten.
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
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_LOCK_NAME 200

static const char *const store_dirs[] = {
    "blobs/sha256", "staging", "catalog", "models", "locks", NULL
};

/* ---- handle -------------------------------------------------------------- */

static int nonempty(const char *s)
{
    return s && *s;
}

AP_EXPORT int ap_store_default_root(char **out)
{
    const char *v;
    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (nonempty(v = getenv("AP_HOME")))
        *out = apx_strdup(v);
    else if (nonempty(v = getenv("XDG_CACHE_HOME")) && v[0] == '/')
        *out = apx_path_join(v, "artifactprov");
    else if (nonempty(v = getenv("HOME")))
        *out = apx_path_join(v, ".cache/artifactprov");
    else
        return apx_error_set(NULL, AP_EINVAL, "no store directory: AP_HOME, "
                             "XDG_CACHE_HOME (absolute) and HOME are all unset or empty");
    return *out ? AP_OK : AP_ENOMEM;
}

int apx_store_ok(const ap_store *s)
{
    return s && s->magic == STORE_MAGIC;
}

AP_EXPORT int ap_store_open(ap_store **out, const char *root)
{
    ap_store *s;
    char *r = NULL;
    int rc, i;

    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (root) {
        if (!*root)
            return apx_error_set(NULL, AP_EINVAL, "the store directory is an empty path");
        r = apx_strdup(root);
        if (!r)
            return AP_ENOMEM;
    } else if ((rc = ap_store_default_root(&r)) != AP_OK) {
        return rc;
    }
    if (apx_mkdirs(r) != AP_OK) {
        int e = errno;
        rc = apx_error_set(NULL, apx_fs_io_status(e), "cannot create the store directory "
                           "'%s': %s", r, strerror(e));
        free(r);
        return rc;
    }
    if (!(s = apx_calloc(1, sizeof *s))) {
        free(r);
        return AP_ENOMEM;
    }
    s->magic = STORE_MAGIC;
    s->root = realpath(r, NULL);
    if (!s->root) {
        rc = apx_error_set(NULL, AP_EIO, "store '%s': %s", r, strerror(errno));
        free(r);
        free(s);
        return rc;
    }
    free(r);
    s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0) {
        rc = apx_error_set(NULL, AP_EIO, "store '%s': %s", s->root, strerror(errno));
        free(s->root);
        free(s);
        return rc;
    }
    for (i = 0; store_dirs[i]; i++) {
        int fd = apx_fs_opendir_at(s->root_fd, store_dirs[i], 1, &s->err);
        if (fd < 0) {
            ap_store_close(s);
            return fd;
        }
        close(fd);
    }
    *out = s;
    return AP_OK;
}

AP_EXPORT void ap_store_close(ap_store *store)
{
    if (!apx_store_ok(store))
        return;
    close(store->root_fd);
    free(store->root);
    store->magic = 0;
    free(store);
}

AP_EXPORT const char *ap_store_root(const ap_store *store)
{
    return apx_store_ok(store) ? store->root : NULL;
}

AP_EXPORT const char *ap_store_errmsg(const ap_store *store)
{
    if (!apx_store_ok(store))
        return "invalid store handle";
    return store->err.msg;
}

int apx_store_bad_hex(ap_store *s, const char *hex)
{
    return apx_error_set(&s->err, AP_EINVAL, "'%.80s' is not a lower-case "
                         "hex sha256", hex ? hex : "(null)");
}

/* Directory fd of blobs/sha256/<2 hex>. */
int apx_store_blob_dir(ap_store *s, const char *hex, int create)
{
    char rel[32];
    snprintf(rel, sizeof rel, "blobs/sha256/%.2s", hex);
    return apx_fs_opendir_at(s->root_fd, rel, create, &s->err);
}

AP_EXPORT int ap_store_has_blob(ap_store *store, const char *sha256_hex)
{
    struct stat st;
    char rel[96];
    if (!apx_store_ok(store) || !apx_is_sha256_hex(sha256_hex))
        return 0;
    snprintf(rel, sizeof rel, "blobs/sha256/%.2s/%s", sha256_hex, sha256_hex);
    return fstatat(store->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

AP_EXPORT int ap_store_blob_path(ap_store *store, const char *sha256_hex,
                                 char **out)
{
    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    if (!apx_is_sha256_hex(sha256_hex))
        return apx_store_bad_hex(store, sha256_hex);
    *out = apx_asprintf("%s/blobs/sha256/%.2s/%s", store->root, sha256_hex,
                        sha256_hex);
    return *out ? AP_OK : AP_ENOMEM;
}

AP_EXPORT int ap_store_staging_path(ap_store *store, const char *key,
                                    char **out)
{
    apx_digest *d;
    char hex[65];
    if (!out)
        return AP_EINVAL;
    *out = NULL;
    if (!apx_store_ok(store) || !key)
        return AP_EINVAL;
    if (!(d = apx_digest_new(APX_SHA256)))
        return AP_ENOMEM;
    apx_digest_update(d, key, strlen(key));
    apx_digest_final_hex(d, hex);
    apx_digest_free(d);
    *out = apx_asprintf("%s/staging/%s.part", store->root, hex);
    return *out ? AP_OK : AP_ENOMEM;
}

/* ---- locks --------------------------------------------------------------- */

/* Take locks/<name>.lock (LOCK_EX, or LOCK_SH when `shared`).  Lock files
 * nobody holds may be removed by their last holder (apx_store_unlock_remove),
 * so after the flock the file must still be the one under the name: else
 * it was unlinked while this process waited, and the lock is taken again
 * on the file now there. */
static int lock_mode(ap_store *s, const char *name, int nonblock, int shared,
                     int *out_fd)
{
    char file[MAX_LOCK_NAME + 8];
    int dfd, fd;

    *out_fd = -1;
    if (!name || strlen(name) > MAX_LOCK_NAME || !apx_fs_valid_component(name))
        return apx_error_set(&s->err, AP_EINVAL, "invalid lock name '%.80s'",
                             name ? name : "(null)");
    snprintf(file, sizeof file, "%s.lock", name);
    if ((dfd = apx_fs_opendir_at(s->root_fd, "locks", 1, &s->err)) < 0)
        return dfd;
    for (;;) {
        struct stat st, pst;
        fd = openat(dfd, file, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
                               O_NOCTTY | O_CLOEXEC, 0644);
        if (fd < 0) {
            int e = errno;
            close(dfd);
            return apx_error_set(&s->err, AP_EIO,
                                 "lock '%s': %s", file, strerror(e));
        }
        memset(&st, 0, sizeof st);
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            close(dfd);
            return apx_error_set(&s->err, AP_EIO, "lock file locks/%s in %s "
                                 "is %s, not a regular file", file, s->root,
                                 apx_fs_ftype_name(st.st_mode));
        }
        while (flock(fd, (shared ? LOCK_SH : LOCK_EX) |
                         (nonblock ? LOCK_NB : 0)) != 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            close(fd);
            close(dfd);
            if (e == EWOULDBLOCK)
                return apx_error_set(&s->err, AP_EBUSY, "'%s' is locked", name);
            return apx_error_set(&s->err, AP_EIO, "flock '%s': %s", file,
                                 strerror(e));
        }
        if (fstatat(dfd, file, &pst, AT_SYMLINK_NOFOLLOW) == 0 &&
            pst.st_ino == st.st_ino && pst.st_dev == st.st_dev)
            break;
        close(fd); /* removed (or replaced) by its holder meanwhile */
    }
    close(dfd);
    *out_fd = fd;
    return AP_OK;
}

int apx_store_lock_name(ap_store *s, const char *name, int nonblock, int *out_fd)
{
    return lock_mode(s, name, nonblock, 0, out_fd);
}

int apx_store_lock_shared(ap_store *store, const char *name, int nonblock,
                          int *out_fd)
{
    if (!out_fd)
        return AP_EINVAL;
    *out_fd = -1;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    return lock_mode(store, name, nonblock, 1, out_fd);
}

/* Release an exclusive lock and remove its file: nobody else holds it
 * (this process has it exclusively), and a waiter that opened the old file
 * sees it gone and takes the lock again on a new one (lock_mode). */
void apx_store_unlock_remove(ap_store *s, const char *name, int fd)
{
    char file[MAX_LOCK_NAME + 8];
    int dfd;
    if (fd < 0)
        return;
    if (name && strlen(name) <= MAX_LOCK_NAME &&
        (dfd = openat(s->root_fd, "locks", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                           O_CLOEXEC)) >= 0) {
        snprintf(file, sizeof file, "%s.lock", name);
        (void)unlinkat(dfd, file, 0);
        close(dfd);
    }
    ap_store_unlock(fd);
}

AP_EXPORT int ap_store_lock(ap_store *store, const char *name, int *out_fd)
{
    if (!out_fd)
        return AP_EINVAL;
    *out_fd = -1;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    return apx_store_lock_name(store, name, 0, out_fd);
}

AP_EXPORT int ap_store_trylock(ap_store *store, const char *name, int *out_fd)
{
    if (!out_fd)
        return AP_EINVAL;
    *out_fd = -1;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    return apx_store_lock_name(store, name, 1, out_fd);
}

AP_EXPORT void ap_store_unlock(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

int apx_store_root_fd(const ap_store *store)
{
    return store ? store->root_fd : -1;
}

/* ---- batched durability -------------------------------------------------- */

int apx_store_sync(ap_store *store)
{
    if (!apx_store_ok(store))
        return AP_EINVAL;
    if (syncfs(store->root_fd) != 0)
        return apx_error_set(&store->err, apx_fs_io_status(errno), "sync of the store "
                             "%s: %s", store->root, strerror(errno));
    return AP_OK;
}

/* ---- commit -------------------------------------------------------------- */

/* Under the blob's lock: is <hex> already stored?  1 yes, 0 no, < 0 when
 * something that is not a regular file sits at the blob's path. */
int apx_store_blob_there(ap_store *s, int dfd, const char *hex)
{
    struct stat st;
    if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (S_ISREG(st.st_mode))
        return 1;
    return apx_error_set(&s->err, AP_ECORRUPT, "blob path blobs/sha256/%.2s/%s "
                         "in %s is %s, not a regular file: remove it (apctl "
                         "verify --remove)", hex, hex, s->root,
                         apx_fs_ftype_name(st.st_mode));
}

void apx_staging_discard(const char *staging_path)
{
    char *side = apx_asprintf("%s.state", staging_path);
    unlink(staging_path);
    if (side) {
        unlink(side);
        free(side);
    }
}

int apx_store_stage_lock_name(const char *staging_path, char name[80])
{
    const char *b = strrchr(staging_path, '/');
    size_t n;
    b = b ? b + 1 : staging_path;
    n = strcspn(b, ".");
    if (n == 0 || n > 64)
        return AP_EINVAL;
    snprintf(name, 80, "stage-%.*s", (int)n, b);
    return AP_OK;
}

static int commit_blob(ap_store *store, const char *staging_path,
                       const char *sha256_hex, int trusted_digest, int sync);

AP_EXPORT int ap_store_commit(ap_store *store, const char *staging_path,
                              const char *sha256_hex, int trusted_digest)
{
    return commit_blob(store, staging_path, sha256_hex, trusted_digest, 1);
}

int apx_store_commit_nosync(ap_store *store, const char *staging_path,
                            const char *sha256_hex, int trusted_digest)
{
    return commit_blob(store, staging_path, sha256_hex, trusted_digest, 0);
}

/* The staging file opened for a commit, checked to be a regular file and,
 * unless trusted_digest, to hash to sha256_hex (else it is removed).
 * Returns its fd, or < 0. */
static int open_staged(ap_store *store, const char *staging_path,
                       const char *sha256_hex, int trusted_digest)
{
    struct stat st;
    int sfd, rc;

    sfd = open(staging_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
                             O_CLOEXEC);
    if (sfd < 0)
        return apx_error_set(&store->err, errno == ENOENT ? AP_ENOTFOUND
                                                          : AP_EIO,
                             "commit %s: open '%s': %s", sha256_hex,
                             staging_path, strerror(errno));
    if (fstat(sfd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(sfd);
        return apx_error_set(&store->err, AP_EINVAL,
                             "commit: '%s' is %s, not a regular file",
                             staging_path, apx_fs_ftype_name(st.st_mode));
    }
    (void)fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) & ~O_NONBLOCK);
    if (!trusted_digest) {
        char hex[65];
        if ((rc = apx_fs_hash_fd(sfd, hex, NULL, &store->err)) != AP_OK) {
            close(sfd);
            apx_error_prefix(&store->err, "commit %s", staging_path);
            return rc;
        }
        if (strcmp(hex, sha256_hex) != 0) {
            close(sfd);
            apx_staging_discard(staging_path);
            return apx_error_set(&store->err, AP_EDIGEST,
                                 "commit %s: sha256 mismatch (want %s, got "
                                 "%s); staging file removed", staging_path,
                                 sha256_hex, hex);
        }
    }
    return sfd;
}

/* Under the blob's lock: the blob already there is a dedup (the staging
 * file goes).  1 when there (or < 0 on error), 0 when not. */
static int dedup(ap_store *store, int dfd, const char *staging_path, const char *sha256_hex)
{
    int rc = apx_store_blob_there(store, dfd, sha256_hex);
    if (rc == 1)
        apx_staging_discard(staging_path);   /* already there: dedup */
    return rc;
}

/* renameat2(RENAME_NOREPLACE) failed with `e`: the same bytes already
 * there, no such flag here (a plain rename under the blob's lock), or
 * another file system (a copy).  0 when the blob is in place now, 1 when
 * it was there already, < 0 on error. */
static int rename_fallback(ap_store *store, int sfd, int dfd, const char *staging_path,
                           const char *sha256_hex, int trusted_digest, int *lfd, int e)
{
    int rc = AP_OK;
    if (e == EEXIST) {
        apx_staging_discard(staging_path);
        return 1;
    }
    if ((e == EINVAL || e == ENOSYS || e == EXDEV) && *lfd < 0) {
        if ((rc = apx_store_lock_name(store, sha256_hex, 0, lfd)) != AP_OK)
            return rc;
        if ((rc = dedup(store, dfd, staging_path, sha256_hex)) != 0)
            return rc;
    }
    if (e == EINVAL || e == ENOSYS) {
        /* No RENAME_NOREPLACE here; we hold the lock and checked. */
        if (renameat(AT_FDCWD, staging_path, dfd, sha256_hex) == 0)
            e = 0;
        else
            e = errno;
    }
    if (e == EXDEV) {
        rc = apx_fs_copy_atomic(sfd, dfd, sha256_hex, 0444,
                                trusted_digest ? NULL : sha256_hex, NULL,
                                &store->err);
        if (rc == AP_OK)
            unlink(staging_path);
        e = 0;
    }
    if (e != 0) {
        fchmod(sfd, 0644);
        rc = apx_error_set(&store->err, apx_fs_io_status(e),
                           "commit '%s': rename: %s", staging_path,
                           strerror(e));
    }
    return rc;
}

static int commit_blob(ap_store *store, const char *staging_path,
                       const char *sha256_hex, int trusted_digest, int sync)
{
    int sfd, dfd = -1, lfd = -1, rc = AP_OK;

    if (!apx_store_ok(store) || !staging_path)
        return AP_EINVAL;
    if (!apx_is_sha256_hex(sha256_hex))
        return apx_store_bad_hex(store, sha256_hex);
    if ((sfd = open_staged(store, staging_path, sha256_hex, trusted_digest)) < 0)
        return sfd;
    /* The blob's lock makes the check and the rename one step against
     * gc and ap_store_remove_blob.  A batched commit's caller holds
     * APX_GC_LOCK (no blob is removed meanwhile) and its staging file's
     * lock; RENAME_NOREPLACE decides between two commits of the same
     * bytes, and the lock is taken only where that flag is missing. */
    if (sync && (rc = apx_store_lock_name(store, sha256_hex, 0, &lfd)) != AP_OK)
        goto out;
    if ((dfd = apx_store_blob_dir(store, sha256_hex, 1)) < 0) {
        rc = dfd;
        goto out;
    }
    if ((rc = dedup(store, dfd, staging_path, sha256_hex)) != 0)
        goto out;
    if ((sync && fsync(sfd) != 0) || fchmod(sfd, 0444) != 0) {
        rc = apx_error_set(&store->err, apx_fs_io_status(errno), "commit '%s': %s",
                           staging_path, strerror(errno));
        goto out;
    }
    APX_FAULT("commit-rename");
    if (renameat2(AT_FDCWD, staging_path, dfd, sha256_hex, RENAME_NOREPLACE) != 0 &&
        (rc = rename_fallback(store, sfd, dfd, staging_path, sha256_hex, trusted_digest,
                              &lfd, errno)) != AP_OK)
        goto out;
    if (sync)
        fsync(dfd);
    {
        char *side = apx_asprintf("%s.state", staging_path);
        if (side) {
            unlink(side);
            free(side);
        }
    }
out:
    if (dfd >= 0)
        close(dfd);
    apx_store_unlock_remove(store, sha256_hex, lfd);
    close(sfd);
    return rc > 0 ? AP_OK : rc;
}

/* ---- human view ---------------------------------------------------------- */

static size_t count_components(const char *p)
{
    size_t n = 1;
    for (; *p; p++)
        if (*p == '/')
            n++;
    return n;
}

static int check_view_names(ap_store *s, const char *vendor, const char *name,
                            const char *relpath)
{
    if (!vendor || !apx_fs_valid_component(vendor))
        return apx_error_set(&s->err, AP_EPATH, "invalid vendor name '%.80s'",
                             vendor ? vendor : "(null)");
    if (ap_path_validate(name) != AP_OK)
        return apx_error_set(&s->err, AP_EPATH, "invalid name '%.200s'",
                             name ? name : "(null)");
    if (relpath && ap_path_validate(relpath) != AP_OK)
        return apx_error_set(&s->err, AP_EPATH, "invalid path '%.200s'",
                             relpath);
    return AP_OK;
}

static int link_view(ap_store *store, const char *vendor, const char *name,
                     const char *relpath, const char *sha256_hex,
                     char **out_path, int sync);

AP_EXPORT int ap_store_link_view(ap_store *store, const char *vendor,
                                 const char *name, const char *relpath,
                                 const char *sha256_hex, char **out_path)
{
    return link_view(store, vendor, name, relpath, sha256_hex, out_path, 1);
}

int apx_store_link_view_nosync(ap_store *store, const char *vendor,
                               const char *name, const char *relpath,
                               const char *sha256_hex, char **out_path)
{
    return link_view(store, vendor, name, relpath, sha256_hex, out_path, 0);
}

static int link_view(ap_store *store, const char *vendor, const char *name,
                     const char *relpath, const char *sha256_hex,
                     char **out_path, int sync)
{
    char blobrel[96], tmp[64], *dirrel = NULL, *target = NULL;
    const char *base;
    struct stat bst, vst;
    int dfd = -1, rc;

    if (out_path)
        *out_path = NULL;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    if ((rc = check_view_names(store, vendor, name, relpath ? relpath : ""))
        != AP_OK)
        return rc;
    if (!apx_is_sha256_hex(sha256_hex))
        return apx_store_bad_hex(store, sha256_hex);
    snprintf(blobrel, sizeof blobrel, "blobs/sha256/%.2s/%s", sha256_hex,
             sha256_hex);
    if (fstatat(store->root_fd, blobrel, &bst, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(bst.st_mode))
        return apx_error_set(&store->err, AP_ENOTFOUND,
                             "view %s/%s/%s: blob %s is not in the store",
                             vendor, name, relpath, sha256_hex);
    base = strrchr(relpath, '/');
    dirrel = base ? apx_asprintf("models/%s/%s/%.*s", vendor, name,
                                 (int)(base - relpath), relpath)
                  : apx_asprintf("models/%s/%s", vendor, name);
    base = base ? base + 1 : relpath;
    if (!dirrel) {
        rc = AP_ENOMEM;
        goto out;
    }
    if ((dfd = apx_fs_opendir_at(store->root_fd, dirrel, 1, &store->err)) < 0) {
        rc = dfd;
        apx_error_prefix(&store->err, "view %s/%s/%s", vendor, name, relpath);
        goto out;
    }
    if (fstatat(dfd, base, &vst, AT_SYMLINK_NOFOLLOW) == 0 &&
        vst.st_ino == bst.st_ino && vst.st_dev == bst.st_dev)
        goto linked;                                /* already right */
    apx_fs_tmpname(tmp, sizeof tmp);
    if (linkat(store->root_fd, blobrel, dfd, tmp, 0) != 0) {
        size_t up = count_components(dirrel), i;
        size_t cap = up * 3 + sizeof blobrel;
        if (!(target = apx_malloc(cap))) {
            rc = AP_ENOMEM;
            goto out;
        }
        target[0] = '\0';
        for (i = 0; i < up; i++)
            strcat(target, "../");
        strcat(target, blobrel);
        if (symlinkat(target, dfd, tmp) != 0) {
            rc = apx_error_set(&store->err, apx_fs_io_status(errno),
                               "view %s/%s/%s: link and symlink failed: %s",
                               vendor, name, relpath, strerror(errno));
            goto out;
        }
    }
    if (renameat(dfd, tmp, dfd, base) != 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        rc = apx_error_set(&store->err, e == EISDIR ? AP_EEXIST : AP_EIO,
                           "view %s/%s/%s: %s", vendor, name, relpath,
                           strerror(e));
        goto out;
    }
    unlinkat(dfd, tmp, 0);   /* rename of a link onto itself keeps tmp */
    if (sync)
        fsync(dfd);
linked:
    if (out_path && !(*out_path = apx_asprintf("%s/models/%s/%s/%s",
                                               store->root, vendor, name,
                                               relpath)))
        rc = AP_ENOMEM;
out:
    if (dfd >= 0)
        close(dfd);
    free(dirrel);
    free(target);
    return rc;
}

AP_EXPORT int ap_store_unlink_view(ap_store *store, const char *vendor,
                                   const char *name)
{
    char *parent, *slash;
    int dfd, rc;

    if (!apx_store_ok(store))
        return AP_EINVAL;
    if ((rc = check_view_names(store, vendor, name, NULL)) != AP_OK)
        return rc;
    slash = strrchr(name, '/');
    parent = slash ? apx_asprintf("models/%s/%.*s", vendor,
                                  (int)(slash - name), name)
                   : apx_asprintf("models/%s", vendor);
    if (!parent)
        return AP_ENOMEM;
    dfd = apx_fs_opendir_at(store->root_fd, parent, 0, &store->err);
    if (dfd < 0) {
        free(parent);
        return dfd == AP_ENOTFOUND ? AP_OK : dfd;
    }
    rc = apx_fs_remove_tree_at(dfd, slash ? slash + 1 : name, &store->err);
    close(dfd);
    /* Drop emptied parents up to models/<vendor> (best effort), through
     * directory fds opened without following symlinks. */
    while (rc == AP_OK && strcmp(parent, "models") != 0 &&
           (slash = strrchr(parent, '/')) != NULL) {
        int pfd, gone;
        *slash = '\0';
        pfd = apx_fs_opendir_at(store->root_fd, parent, 0, NULL);
        if (pfd < 0)
            break;
        gone = unlinkat(pfd, slash + 1, AT_REMOVEDIR) == 0;
        close(pfd);
        if (!gone)
            break;
    }
    free(parent);
    return rc;
}

AP_EXPORT int ap_store_free_space(ap_store *store, uint64_t *out_bytes)
{
    struct statvfs sv;
    if (!out_bytes)
        return AP_EINVAL;
    *out_bytes = 0;
    if (!apx_store_ok(store))
        return AP_EINVAL;
    if (fstatvfs(store->root_fd, &sv) != 0)
        return apx_error_set(&store->err, AP_EIO, "statvfs '%s': %s",
                             store->root, strerror(errno));
    *out_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return AP_OK;
}
