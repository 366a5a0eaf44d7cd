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

#define STORE_MAGIC 0x41505354u  /* "APST" */
#define IO_BUF (1u << 20)
#define MAX_LOCK_NAME 200

struct ap_store {
    unsigned magic;
    char *root;
    int root_fd;
    apx_error err;
};

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

static int check(const ap_store *s)
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
    if (!check(store))
        return;
    close(store->root_fd);
    free(store->root);
    store->magic = 0;
    free(store);
}

AP_EXPORT const char *ap_store_root(const ap_store *store)
{
    return check(store) ? store->root : NULL;
}

AP_EXPORT const char *ap_store_errmsg(const ap_store *store)
{
    if (!check(store))
        return "invalid store handle";
    return store->err.msg;
}

static int bad_hex(ap_store *s, const char *hex)
{
    return apx_error_set(&s->err, AP_EINVAL, "'%.80s' is not a lower-case "
                         "hex sha256", hex ? hex : "(null)");
}

/* Directory fd of blobs/sha256/<2 hex>. */
static int blob_dir(ap_store *s, const char *hex, int create)
{
    char rel[32];
    snprintf(rel, sizeof rel, "blobs/sha256/%.2s", hex);
    return apx_fs_opendir_at(s->root_fd, rel, create, &s->err);
}

AP_EXPORT int ap_store_has_blob(ap_store *store, const char *sha256_hex)
{
    struct stat st;
    char rel[96];
    if (!check(store) || !apx_is_sha256_hex(sha256_hex))
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
    if (!check(store))
        return AP_EINVAL;
    if (!apx_is_sha256_hex(sha256_hex))
        return bad_hex(store, sha256_hex);
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
    if (!check(store) || !key)
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

static int lock_name(ap_store *s, const char *name, int nonblock, int *out_fd)
{
    return lock_mode(s, name, nonblock, 0, out_fd);
}

int apx_store_lock_shared(ap_store *store, const char *name, int nonblock,
                          int *out_fd)
{
    if (!out_fd)
        return AP_EINVAL;
    *out_fd = -1;
    if (!check(store))
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
    if (!check(store))
        return AP_EINVAL;
    return lock_name(store, name, 0, out_fd);
}

AP_EXPORT int ap_store_trylock(ap_store *store, const char *name, int *out_fd)
{
    if (!out_fd)
        return AP_EINVAL;
    *out_fd = -1;
    if (!check(store))
        return AP_EINVAL;
    return lock_name(store, name, 1, out_fd);
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
    if (!check(store))
        return AP_EINVAL;
    if (syncfs(store->root_fd) != 0)
        return apx_error_set(&store->err, apx_fs_io_status(errno), "sync of the store "
                             "%s: %s", store->root, strerror(errno));
    return AP_OK;
}

/* ---- commit / import ----------------------------------------------------- */

static int blob_there(ap_store *s, int dfd, const char *hex);

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

static int commit_blob(ap_store *store, const char *staging_path,
                       const char *sha256_hex, int trusted_digest, int sync)
{
    struct stat st;
    int sfd, dfd = -1, lfd = -1, rc = AP_OK;

    if (!check(store) || !staging_path)
        return AP_EINVAL;
    if (!apx_is_sha256_hex(sha256_hex))
        return bad_hex(store, sha256_hex);
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
    /* The blob's lock makes the check and the rename one step against
     * gc and ap_store_remove_blob.  A batched commit's caller holds
     * APX_GC_LOCK (no blob is removed meanwhile) and its staging file's
     * lock; RENAME_NOREPLACE decides between two commits of the same
     * bytes, and the lock is taken only where that flag is missing. */
    if (sync && (rc = lock_name(store, sha256_hex, 0, &lfd)) != AP_OK)
        goto out;
    if ((dfd = blob_dir(store, sha256_hex, 1)) < 0) {
        rc = dfd;
        goto out;
    }
    if ((rc = blob_there(store, dfd, sha256_hex)) != 0) {
        if (rc == 1) {
            apx_staging_discard(staging_path);   /* already there: dedup */
            rc = AP_OK;
        }
        goto out;
    }
    if ((sync && fsync(sfd) != 0) || fchmod(sfd, 0444) != 0) {
        rc = apx_error_set(&store->err, apx_fs_io_status(errno), "commit '%s': %s",
                           staging_path, strerror(errno));
        goto out;
    }
    APX_FAULT("commit-rename");
    if (renameat2(AT_FDCWD, staging_path, dfd, sha256_hex,
                  RENAME_NOREPLACE) != 0) {
        int e = errno;
        if (e == EEXIST) {
            apx_staging_discard(staging_path);
            goto out;
        }
        if ((e == EINVAL || e == ENOSYS || e == EXDEV) && lfd < 0) {
            if ((rc = lock_name(store, sha256_hex, 0, &lfd)) != AP_OK)
                goto out;
            if ((rc = blob_there(store, dfd, sha256_hex)) != 0) {
                if (rc == 1) {
                    apx_staging_discard(staging_path);
                    rc = AP_OK;
                }
                goto out;
            }
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
        if (rc != AP_OK)
            goto out;
    }
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
    return rc;
}

/* The digests of an import: sha256, and the git blob id when asked for
 * (sha1 of "blob <size>\0" + bytes, so the size is needed first). */
typedef struct import_digests {
    apx_digest *sha, *git;
} import_digests;

static int digests_init(import_digests *d, int want_git, uint64_t size,
                        apx_error *err)
{
    char head[48];
    int n;
    d->git = NULL;
    if (!(d->sha = apx_digest_new(APX_SHA256)))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    if (!want_git)
        return AP_OK;
    if (!(d->git = apx_digest_new(APX_SHA1)))
        return apx_error_set(err, AP_ENOMEM, "out of memory");
    n = snprintf(head, sizeof head, "blob %llu", (unsigned long long)size);
    apx_digest_update(d->git, head, (size_t)n + 1); /* with its NUL */
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

/* Under the blob's lock: is <hex> already stored?  1 yes, 0 no, < 0 when
 * something that is not a regular file sits at the blob's path. */
static int blob_there(ap_store *s, int dfd, const char *hex)
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
    if ((rc = lock_name(s, sha, 0, &lfd)) != AP_OK)
        return rc;
    if ((dfd = rc = blob_dir(s, sha, 1)) < 0)
        goto out;
    if ((rc = blob_there(s, dfd, sha)) != 0)
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

int apx_store_import_fd(ap_store *store, int sfd, const char *label,
                        const char *expect_sha256, const char *expect_git,
                        unsigned flags, char sha_out[65], char git_out[41])
{
    struct stat st;
    import_digests d = { NULL, NULL };
    char tmp[64], sha[65], git[41];
    uint64_t size = 0;
    mode_t mode;
    int tdir = -1, tfd = -1, dfd = -1, lfd = -1, rc, want_git;

    if (!check(store) || sfd < 0)
        return AP_EINVAL;
    if (!label)
        label = "(file)";
    if (expect_sha256 && !apx_is_sha256_hex(expect_sha256))
        return bad_hex(store, expect_sha256);
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
    if (ioctl(tfd, FICLONE, sfd) == 0) {
        struct stat cst;
        if (fstat(tfd, &cst) != 0) {
            rc = apx_error_set(&store->err, AP_EIO, "import '%s': %s", label,
                               strerror(errno));
            goto fail;
        }
        if ((rc = digests_init(&d, want_git, (uint64_t)cst.st_size,
                                 &store->err)) ||
            (rc = digests_feed(&d, tfd, -1, &size, label, &store->err)))
            goto fail;
    } else {
        if ((rc = digests_init(&d, want_git, (uint64_t)st.st_size,
                                 &store->err)) ||
            (rc = digests_feed(&d, sfd, tfd, &size, label, &store->err)))
            goto fail;
        if (size != (uint64_t)st.st_size) {
            rc = apx_error_set(&store->err, AP_EIO, "import '%s': the file "
                               "changed while it was copied", label);
            goto fail;
        }
    }
    if ((rc = digests_check(&d, label, expect_sha256, expect_git, sha, git,
                            &store->err)) != AP_OK)
        goto fail;
    /* Never more readable than the file it came from (a private file
     * stays private); read-only like every blob. */
    mode = (mode_t)(0444 & (st.st_mode | 0400));
    if (fchmod(tfd, mode) != 0 || fsync(tfd) != 0) {
        rc = apx_error_set(&store->err, apx_fs_io_status(errno), "import '%s': sync: "
                           "%s", label, strerror(errno));
        goto fail;
    }
    if ((rc = lock_name(store, sha, 0, &lfd)) != AP_OK)
        goto fail;
    if ((dfd = rc = blob_dir(store, sha, 1)) < 0)
        goto fail;
    if ((rc = blob_there(store, dfd, sha)) != 0) {
        if (rc == 1)
            rc = AP_OK;                     /* already stored */
        goto fail;
    }
    if (renameat2(tdir, tmp, dfd, sha, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if ((e == EINVAL || e == ENOSYS) && renameat(tdir, tmp, dfd, sha) == 0)
            e = 0;
        else if (e == EINVAL || e == ENOSYS)
            e = errno;
        if (e == EXDEV) {
            rc = apx_fs_copy_atomic(tfd, dfd, sha, mode, sha, NULL,
                                    &store->err);
            if (rc != AP_OK)
                goto fail;
            e = 0;
            unlinkat(tdir, tmp, 0);
        }
        if (e == EEXIST) {
            rc = AP_OK;
            goto fail;
        }
        if (e != 0) {
            rc = apx_error_set(&store->err, apx_fs_io_status(e), "import '%s': "
                               "rename: %s", label, strerror(e));
            goto fail;
        }
    }
    fsync(dfd);
    goto done;
fail:
    unlinkat(tdir, tmp, 0);
    if (rc != AP_OK)
        goto out;
done:
    if (sha_out)
        memcpy(sha_out, sha, 65);
    if (git_out)
        memcpy(git_out, git, 41);
    rc = AP_OK;
out:
    digests_free(&d);
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

    if (!check(store) || !path)
        return AP_EINVAL;
    if (expected_sha256 && !apx_is_sha256_hex(expected_sha256))
        return bad_hex(store, expected_sha256);
    if ((sfd = apx_fs_open_regular(path, NULL, &store->err)) < 0) {
        apx_error_prefix(&store->err, "import");
        return sfd;
    }
    rc = apx_store_import_fd(store, sfd, path, expected_sha256, NULL, flags,
                             out_sha256, NULL);
    close(sfd);
    return rc;
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
    if (!check(store))
        return AP_EINVAL;
    if ((rc = check_view_names(store, vendor, name, relpath ? relpath : ""))
        != AP_OK)
        return rc;
    if (!apx_is_sha256_hex(sha256_hex))
        return bad_hex(store, sha256_hex);
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

    if (!check(store))
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
        if (lock_name(s, hex, 0, &lfd) == AP_OK) {
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
    if (!check(store))
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
    int rc = lock_name(s, hex, 1, fd1);
    *fd2 = -1;
    if (rc != AP_OK)
        return rc;
    snprintf(name, sizeof name, "blob-%s", hex);
    if ((rc = lock_name(s, name, 1, fd2)) != AP_OK) {
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
    if (!check(store))
        return AP_EINVAL;
    if (!apx_is_sha256_hex(sha256_hex))
        return bad_hex(store, sha256_hex);
    if ((rc = lock_blob_nb(store, sha256_hex, &l1, &l2)) != AP_OK)
        return rc;
    dfd = blob_dir(store, sha256_hex, 0);
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
 * pull is writing it).  1: handled (removed or in use), 0: not such a
 * file, <0: an error status. */
static int gc_unresumable(ap_store *s, gc_ctx *g, int dfd, const char *n,
                          const char *rel)
{
    struct stat st, sst;
    char lock[80], *sc;
    int have_side, lfd = -1, rc;
    if (!ends_with(n, ".part") || strlen(n) != 64 + 5 ||
        strspn(n, "0123456789abcdef") != 64 ||
        apx_store_stage_lock_name(n, lock) != AP_OK)
        return 0;
    if (!(sc = apx_asprintf("%s.state", n)))
        return AP_ENOMEM;
    have_side = fstatat(dfd, sc, &sst, AT_SYMLINK_NOFOLLOW) == 0;
    free(sc);
    if (have_side)
        return 0;
    if (ap_store_trylock(s, lock, &lfd) != AP_OK)
        return 1;          /* a pull holds it: its file, not a leftover */
    rc = 1;
    if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
        unlinkat(dfd, n, 0) == 0)
        rc = gc_report(s, g, "staging", apx_asprintf("%s/%s/%s", s->root, rel, n),
                       (uint64_t)st.st_size);
    apx_store_unlock_remove(s, lock, lfd);
    return rc == AP_OK ? 1 : rc;
}

/* Stale files of staging/ (data file + sidecar) and temporary files in
 * catalog/; unresumable staging files at any age (gc_unresumable). */
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
            uint64_t bytes;
            int side = ends_with(n, ".state");

            if (!strcmp(n, ".") || !strcmp(n, ".."))
                continue;
            if (!staging && strncmp(n, ".ap-tmp-", 8) != 0)
                continue;
            if (staging && side != pass)
                continue;
            if (staging && side) {
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
            if (staging && !side) {
                int u = gc_unresumable(s, g, dirfd(dir), n, rel);
                if (u < 0)
                    rc = u;
                if (u != 0)
                    continue;
            }
            if (fstatat(dirfd(dir), n, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                S_ISDIR(st.st_mode) || !is_stale(&st, g))
                continue;
            bytes = (uint64_t)st.st_size;
            if (staging && !side) {
                char *sc = apx_asprintf("%s.state", n);
                if (!sc)
                    return AP_ENOMEM;
                if (fstatat(dirfd(dir), sc, &sst, AT_SYMLINK_NOFOLLOW) == 0) {
                    /* A sidecar touched recently means a live download. */
                    if (!is_stale(&sst, g)) {
                        free(sc);
                        continue;
                    }
                    if (unlinkat(dirfd(dir), sc, 0) == 0)
                        bytes += (uint64_t)sst.st_size;
                }
                free(sc);
            }
            if (unlinkat(dirfd(dir), n, 0) != 0)
                continue;
            rc = gc_report(s, g, staging ? "staging" : "tmp",
                           apx_asprintf("%s/%s/%s", s->root, rel, n), bytes);
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
    if (!check(store) || (n_keep && !keep))
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

AP_EXPORT int ap_store_free_space(ap_store *store, uint64_t *out_bytes)
{
    struct statvfs sv;
    if (!out_bytes)
        return AP_EINVAL;
    *out_bytes = 0;
    if (!check(store))
        return AP_EINVAL;
    if (fstatvfs(store->root_fd, &sv) != 0)
        return apx_error_set(&store->err, AP_EIO, "statvfs '%s': %s",
                             store->root, strerror(errno));
    *out_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return AP_OK;
}
