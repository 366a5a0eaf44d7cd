/* libartifactprov — internal: what the store (store.c) offers the rest of
 * the library beyond its public API (store.h): imports from an open file,
 * staging discards, locks, batched durability, its root's fd and the gc
 * lock's name.  SPDX-License-Identifier: MIT */
#ifndef AP_STORE_INTERNAL_H
#define AP_STORE_INTERNAL_H

#include "internal.h" /* first: it makes AP_EXPORT export */

#include <artifactprov/store.h>

/* Import the open regular file src_fd into the store (see ap_store_import):
 * by reflink (FICLONE) where the file system can, else by copy through a
 * temporary name in staging/, hashing what was placed; by hard link only
 * with AP_IMPORT_LINK.  The sha256 and, when expect_git or git_out is
 * given, the git blob id are computed from the bytes; a mismatch with
 * expect_sha256 / expect_git is AP_EDIGEST with "'<label>': ... mismatch
 * (want W, got G)" in the store's error.  A copied blob is mode 0444 less
 * the read bits the source lacks. */
APX_HIDDEN int apx_store_import_fd(ap_store *store, int src_fd,
                                   const char *label,
                                   const char *expect_sha256,
                                   const char *expect_git, unsigned flags,
                                   char sha256_out[65], char git_out[41]);

/* Remove a staging file and its sidecar (<staging>.state), for bytes that
 * must not be kept for a resume (a failed digest or signature). */
APX_HIDDEN void apx_staging_discard(const char *staging_path);

/* The lock that makes one job or process the only writer of a staging
 * file: "stage-<the hex of its name>" (its name is sha256(key).part).
 * gc removes a staging file nobody can resume (no sidecar) at once when
 * this lock is free.  AP_EINVAL for a path not of the staging form. */
APX_HIDDEN int apx_store_stage_lock_name(const char *staging_path, char name[80]);

/* Store locks (lib/store.c).  A shared lock on <root>/locks/<name>.lock
 * (many holders; an exclusive ap_store_lock waits for them all). */
APX_HIDDEN int apx_store_lock_shared(ap_store *store, const char *name,
                                     int nonblock, int *out_fd);
/* Release an exclusive lock taken with ap_store_lock/trylock under `name`
 * and remove its lock file (so locks/ holds only locks someone holds). */
APX_HIDDEN void apx_store_unlock_remove(ap_store *store, const char *name, int fd);

/* Batched durability (lib/store.c): ap_store_commit and ap_store_link_view
 * without their fsync calls.  The caller makes the bytes durable with
 * apx_store_sync (syncfs of the store's file system): the staging files of
 * a batch before their commits (a blob under its name always has all its
 * bytes), the renames before another batch or a document names them.  The
 * caller of apx_store_commit_nosync holds APX_GC_LOCK (shared) and the
 * staging file's lock: the blob's own lock file is not made (store.c). */
APX_HIDDEN int apx_store_commit_nosync(ap_store *store, const char *staging_path,
                                       const char *sha256_hex, int trusted_digest);
APX_HIDDEN int apx_store_link_view_nosync(ap_store *store, const char *vendor,
                                          const char *name, const char *relpath,
                                          const char *sha256_hex, char **out_path);
APX_HIDDEN int apx_store_sync(ap_store *store);
/* The directory fd of the store's root (owned by the store; never closed
 * by the caller). */
APX_HIDDEN int apx_store_root_fd(const ap_store *store);

/* The lock pulls hold shared while blobs they committed are not yet named
 * by a catalog document; gc holds it exclusively while it runs. */
#define APX_GC_LOCK "gc"

#endif
