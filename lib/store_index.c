/* libartifactprov — the store's git blob id → sha256 index under
 * <root>/index/git-sha1: a regular file known by its git blob id alone
 * (a Hugging Face listing gives no sha256 for it) is recognised in the
 * store.  An entry is a hint, re-checked against the blob's bytes on every
 * use.  SPDX-License-Identifier: MIT */
#include "store_index.h"
#include "fs.h"
#include "store_internal.h"
#include "digest.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int index_dir(ap_store *s, int create)
{
    return apx_fs_opendir_at(apx_store_root_fd(s), "index/git-sha1", create, NULL);
}

/* The git blob id of the stored blob <sha256>: AP_OK with git filled,
 * AP_ENOTFOUND when the blob is absent (or not a regular file). */
static int blob_git_sha1(ap_store *s, const char *sha256, char git[41])
{
    char rel[96];
    int root, fd, rc;
    apx_digest *d;
    struct stat st;

    snprintf(rel, sizeof rel, "blobs/sha256/%.2s", sha256);
    if ((root = apx_fs_opendir_at(apx_store_root_fd(s), rel, 0, NULL)) < 0)
        return AP_ENOTFOUND;
    fd = apx_fs_open_regular_at(root, sha256, sha256, &st, NULL);
    close(root);
    if (fd < 0)
        return AP_ENOTFOUND;
    if (!(d = apx_digest_new(APX_SHA1))) {
        close(fd);
        return AP_ENOMEM;
    }
    apx_digest_git_blob_head(d, (uint64_t)st.st_size);
    rc = apx_digest_fd(d, fd, NULL);
    if (rc == AP_OK)
        rc = apx_digest_final_hex(d, git);
    apx_digest_free(d);
    close(fd);
    return rc;
}

/* 1 when the index entry git_sha1 already names sha256: nothing to write
 * (whether it is right is checked by every lookup, never here). */
static int recorded(int dir_fd, const char *git_sha1, const char *sha256)
{
    char *data = NULL;
    size_t len = 0;
    int same = apx_fs_read_file_at(dir_fd, git_sha1, 128, &data, &len, NULL) == AP_OK &&
               len == AP_SHA256_HEX_LEN && memcmp(data, sha256, len) == 0;
    free(data);
    return same;
}

/* Only a git id computed from the stored bytes is ever recorded: whoever
 * passes the pair (a vendor's listing, an older catalog document, a scan),
 * the blob is hashed as git would before the index names it. */
void apx_gitsha1_remember(ap_store *s, const char *git_sha1,
                          const char *sha256)
{
    char git[41];
    int fd;
    if (!apx_is_lower_hex(git_sha1, 40) || !apx_is_sha256_hex(sha256))
        return;
    fd = index_dir(s, 1);
    if (fd < 0)
        return;
    if (recorded(fd, git_sha1, sha256) ||
        blob_git_sha1(s, sha256, git) != AP_OK || strcmp(git, git_sha1) != 0) {
        close(fd);
        return;
    }
    /* a hint, re-checked on every use: made durable with the entry's views
     * (apx_entry_finish syncs the store), never fsync'd one by one */
    (void)apx_fs_write_atomic_nosync(fd, git_sha1, sha256, AP_SHA256_HEX_LEN, 0644, NULL);
    close(fd);
}

/* An index entry is a hint, re-checked on every use: it is returned only
 * when the blob it names is present and its bytes have that git id; a
 * wrong entry (planted, or left by an older version) is removed. */
int apx_gitsha1_lookup(ap_store *s, const char *git_sha1,
                       char out[AP_SHA256_HEX_LEN + 1])
{
    char *data = NULL, git[41];
    size_t len = 0;
    int fd, rc;
    if (!apx_is_lower_hex(git_sha1, 40))
        return AP_EINVAL;
    fd = index_dir(s, 0);
    if (fd < 0)
        return AP_ENOTFOUND;
    rc = apx_fs_read_file_at(fd, git_sha1, 128, &data, &len, NULL);
    if (rc == AP_OK && (len != AP_SHA256_HEX_LEN || !apx_is_sha256_hex(data)))
        rc = AP_ECORRUPT;
    if (rc == AP_OK && (blob_git_sha1(s, data, git) != AP_OK ||
                        strcmp(git, git_sha1) != 0)) {
        struct stat st;
        /* names other bytes (or none we hold): drop it, if it is a file */
        if (fstatat(fd, git_sha1, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode))
            unlinkat(fd, git_sha1, 0);
        rc = AP_ENOTFOUND;
    }
    close(fd);
    if (rc == AP_OK)
        memcpy(out, data, AP_SHA256_HEX_LEN + 1);
    free(data);
    return rc;
}
