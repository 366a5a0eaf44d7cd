/* libartifactprov — internal: file-system primitives (fs.c), shared by
 * the store, the catalog, interop and the foreign-cache import.
 * SPDX-License-Identifier: MIT
 *
 * Every name is validated with ap_path_validate() first, and writes are
 * made below a directory fd opened with every symlink refused, so a
 * symlink planted in a directory cannot redirect them.
 */
#ifndef AP_FS_H
#define AP_FS_H

#include <sys/stat.h>
#include <sys/types.h>

#include "internal.h" /* first: it makes AP_EXPORT export */

#include <artifactprov/store.h>

/* Open the directory `rel` (a validated relative path, "" or NULL for
 * base itself) below base_fd, one component at a time with
 * O_DIRECTORY|O_NOFOLLOW, creating missing components (mode 0755) when
 * `create`.  Returns an fd (>= 0) or a negative ap_status (AP_EPATH when a
 * component is a symlink or not a directory, AP_EIO otherwise) with a
 * message in err. */
APX_HIDDEN int apx_fs_opendir_at(int base_fd, const char *rel, int create,
                                 apx_error *err);

/* Write data to dir_fd/name atomically: a temporary file in the same
 * directory, fsync, chmod `mode`, renameat over name, fsync the directory. */
APX_HIDDEN int apx_fs_write_atomic(int dir_fd, const char *name,
                                   const void *data, size_t len, mode_t mode,
                                   apx_error *err);
/* The same without the fsync calls (for a hint made durable by a later
 * apx_store_sync, or never needed to be). */
APX_HIDDEN int apx_fs_write_atomic_nosync(int dir_fd, const char *name,
                                          const void *data, size_t len,
                                          mode_t mode, apx_error *err);

/* Open dir_fd/name for reading if it is a regular file: never follows a
 * final symlink (AP_EPATH) and never blocks — a FIFO, socket, device or
 * directory is refused (AP_EIO, "'<label>' is a FIFO, not a regular
 * file") without being opened for I/O; O_NONBLOCK is cleared on the fd
 * returned.  AP_ENOTFOUND when absent.  label (NULL: name) names the file
 * in messages; *st (may be NULL) receives its fstat. */
APX_HIDDEN int apx_fs_open_regular_at(int dir_fd, const char *name,
                                      const char *label, struct stat *st,
                                      apx_error *err);

/* The same for a path the caller chose (symlinks followed), for files
 * outside any cache (file:// URLs, ap_store_import). */
APX_HIDDEN int apx_fs_open_regular(const char *path, struct stat *st,
                                   apx_error *err);

/* Open the regular file rel below the directory root_fd, following
 * symlinks only while they stay below it: each component is opened with
 * O_NOFOLLOW, a link's target is read and walked the same way, ".." never
 * climbs above the root, an absolute target is accepted only when it names
 * a place below the root.  A link leading out is refused with AP_EPATH
 * and a message naming the link and its target; the final file is opened
 * with apx_fs_open_regular_at (no FIFO, socket or device).  *canon (may be
 * NULL) receives the resolved path relative to the root ("x/blobs/<etag>",
 * free with free()); root_label names the root in messages. */
APX_HIDDEN int apx_fs_open_beneath(int root_fd, const char *root_label,
                                   const char *rel, char **canon,
                                   struct stat *st, apx_error *err);

/* Read a whole regular file (not following a final symlink) of at most
 * max bytes; *out is NUL-terminated, free with free().  AP_ENOTFOUND when
 * absent, AP_ESIZE when larger than max. */
APX_HIDDEN int apx_fs_read_file_at(int dir_fd, const char *name, size_t max,
                                   char **out, size_t *len, apx_error *err);

/* Copy the open file src_fd (from offset 0) into dir_fd/name through a
 * temporary name + fsync + chmod `mode` + renameat (replacing name),
 * hashing the bytes on the way into sha256_out (65 bytes, may be NULL).
 * When expect_sha256 is non-NULL and the bytes do not match, nothing is
 * renamed and AP_EDIGEST is returned. */
APX_HIDDEN int apx_fs_copy_atomic(int src_fd, int dir_fd, const char *name,
                                  mode_t mode, const char *expect_sha256,
                                  char *sha256_out, apx_error *err);

/* sha256 of an open file from offset 0 (hex into 65 bytes). */
APX_HIDDEN int apx_fs_hash_fd(int fd, char hex[65], uint64_t *size,
                              apx_error *err);

/* Remove dir_fd/name and everything below it without following symlinks
 * (depth <= 64).  AP_OK also when it does not exist. */
APX_HIDDEN int apx_fs_remove_tree_at(int dir_fd, const char *name,
                                     apx_error *err);

/* A unique temporary name ".ap-tmp-<pid>-<random>" (buf >= 48 bytes). */
APX_HIDDEN void apx_fs_tmpname(char *buf, size_t n);

/* 1 when name is a single valid path component (no '/'). */
APX_HIDDEN int apx_fs_valid_component(const char *name);

/* The ap_status of a failed write's errno: AP_ENOSPC for ENOSPC and
 * EDQUOT, AP_EIO otherwise. */
APX_HIDDEN int apx_fs_io_status(int e);
/* "a FIFO", "a directory", ... for a file type, in messages. */
APX_HIDDEN const char *apx_fs_ftype_name(mode_t m);
/* Write all of data to fd (EINTR and short writes retried): 0, or -1 with
 * errno set. */
APX_HIDDEN int apx_fs_write_all(int fd, const void *data, size_t len);

#endif
