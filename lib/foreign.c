/* libartifactprov — host calls that write into a foreign layout (another
 * tool's cache) for a vendor's `publish`: put_copy, put_symlink,
 * put_bytes.  The vendor chooses the names; the host keeps the rules:
 * validated relative names, directories below the root opened without
 * following links, atomic writes, never a hard link to a store blob.
 * SPDX-License-Identifier: MIT */
#include "prov.h"
#include "fs.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Open root (absolute, created when missing) and the directory of rel
 * below it (created, no link followed).  *base gets the last component of
 * rel.  Returns the directory fd or a negative status (call's error set). */
static int open_parent(ap_vendor_call *call, const char *root, const char *rel,
                       const char **base)
{
    apx_error err;
    char *dir = NULL;
    const char *slash;
    int rfd, dfd;

    apx_error_clear(&err);
    if (!root || root[0] != '/')
        return apx_error_set(&call->err, AP_EINVAL, "%s: vendor '%s': publish root "
                             "'%s' is not an absolute directory", call->ref,
                             call->vendor->desc.name, root ? root : "(null)");
    if (!rel || ap_path_validate(rel) != AP_OK)
        return apx_error_set(&call->err, AP_EPATH, "%s: vendor '%s': invalid name "
                             "'%s' below %s (refused before touching the disk)",
                             call->ref, call->vendor->desc.name,
                             rel ? rel : "(null)", root);
    if (apx_mkdirs(root) != AP_OK)
        return apx_error_set(&call->err, AP_EIO, "%s: create '%s': %s", call->ref,
                             root, strerror(errno));
    rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rfd < 0)
        return apx_error_set(&call->err, AP_EIO, "%s: open '%s': %s", call->ref,
                             root, strerror(errno));
    slash = strrchr(rel, '/');
    *base = slash ? slash + 1 : rel;
    if (slash && !(dir = apx_strndup(rel, (size_t)(slash - rel)))) {
        close(rfd);
        return apx_error_set(&call->err, AP_ENOMEM, "out of memory");
    }
    dfd = apx_fs_opendir_at(rfd, dir, 1, &err);
    close(rfd);
    free(dir);
    if (dfd < 0)
        return apx_error_set(&call->err, dfd, "%s: %s/%s: %s", call->ref, root,
                             rel, err.msg);
    return dfd;
}

int apx_host_put_copy(ap_vendor_call *call, const char *root, const char *rel,
                      const char *blob_path)
{
    apx_error err;
    struct stat st;
    const char *base;
    char tmp[64];
    int dfd, sfd, tfd, rc = AP_OK;

    if (!blob_path)
        return apx_error_set(&call->err, AP_EINVAL, "%s: put_copy without a blob",
                             call->ref);
    if ((dfd = open_parent(call, root, rel, &base)) < 0)
        return dfd;
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        close(dfd);
        return AP_OK; /* already there: the names are content addresses */
    }
    apx_error_clear(&err);
    if ((sfd = apx_fs_open_regular(blob_path, NULL, &err)) < 0) {
        close(dfd);
        return apx_error_set(&call->err, sfd, "%s: %s/%s: %s", call->ref, root, rel,
                             err.msg);
    }
    /* A reflink where the file system can, else a copy; never a hard link:
     * the other tool may rewrite its file in place, which would change a
     * verified blob of ours. */
    apx_fs_tmpname(tmp, sizeof tmp);
    tfd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (tfd >= 0 && ioctl(tfd, FICLONE, sfd) == 0) {
        if (fchmod(tfd, 0644) != 0 || fsync(tfd) != 0 ||
            renameat(dfd, tmp, dfd, base) != 0) {
            rc = apx_error_set(&err, AP_EIO, "%s", strerror(errno));
            unlinkat(dfd, tmp, 0);
        } else {
            fsync(dfd);
        }
    } else {
        if (tfd >= 0)
            unlinkat(dfd, tmp, 0);
        rc = apx_fs_copy_atomic(sfd, dfd, base, 0644, NULL, NULL, &err);
    }
    if (tfd >= 0)
        close(tfd);
    close(sfd);
    close(dfd);
    if (rc != AP_OK)
        return apx_error_set(&call->err, rc, "%s: %s/%s: %s", call->ref, root, rel,
                             err.msg);
    APX_FAULT("publish-copy");
    return AP_OK;
}

/* target, read from the directory of rel, stays below the root. */
static int target_beneath(const char *rel, const char *target)
{
    long depth = 0;
    const char *p;
    size_t n;
    for (p = rel; (p = strchr(p, '/')); p++)
        depth++;
    if (!*target || target[0] == '/')
        return 0;
    for (p = target; *p; p += n + (p[n] == '/')) {
        n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.'))
            return 0;
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (p[n] == '/') {
            depth++;
        }
    }
    return 1;
}

int apx_host_put_symlink(ap_vendor_call *call, const char *root, const char *rel,
                         const char *target)
{
    char cur[PATH_MAX], tmp[64];
    const char *base;
    ssize_t n;
    int dfd;

    if (!target || !rel || !target_beneath(rel, target))
        return apx_error_set(&call->err, AP_EPATH, "%s: vendor '%s': link %s/%s -> "
                             "'%s' would lead out of %s", call->ref,
                             call->vendor->desc.name, root ? root : "(null)",
                             rel ? rel : "(null)", target ? target : "(null)",
                             root ? root : "(null)");
    if ((dfd = open_parent(call, root, rel, &base)) < 0)
        return dfd;
    n = readlinkat(dfd, base, cur, sizeof cur - 1);
    if (n >= 0 && (size_t)n == strlen(target) && memcmp(cur, target, (size_t)n) == 0) {
        close(dfd);
        return AP_OK;
    }
    apx_fs_tmpname(tmp, sizeof tmp);
    if (symlinkat(target, dfd, tmp) != 0 || renameat(dfd, tmp, dfd, base) != 0) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        close(dfd);
        return apx_error_set(&call->err, e == ENOSPC ? AP_ENOSPC : AP_EIO,
                             "%s: link %s/%s: %s", call->ref, root, rel, strerror(e));
    }
    fsync(dfd);
    close(dfd);
    return AP_OK;
}

int apx_host_put_bytes(ap_vendor_call *call, const char *root, const char *rel,
                       const void *data, size_t len)
{
    apx_error err;
    const char *base;
    int dfd, rc;

    if (!data && len)
        return apx_error_set(&call->err, AP_EINVAL, "%s: put_bytes without data",
                             call->ref);
    if ((dfd = open_parent(call, root, rel, &base)) < 0)
        return dfd;
    apx_error_clear(&err);
    rc = apx_fs_write_atomic(dfd, base, data ? data : "", len, 0644, &err);
    close(dfd);
    if (rc != AP_OK)
        return apx_error_set(&call->err, rc, "%s: %s/%s: %s", call->ref, root, rel,
                             err.msg);
    return AP_OK;
}
