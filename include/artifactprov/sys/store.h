/* libartifactprov — store internals for tools and advanced embedders.
 * SPDX-License-Identifier: MIT
 *
 * STABILITY: the declarations in include/artifactprov/sys/ are NOT part of
 * the stable API.  They may change or disappear in any minor release.  They
 * exist for the tools in this repository (apctl, apd, the tests) and for
 * advanced embedders that accept to follow such changes.  The umbrella
 * header <artifactprov.h> does not include them; include this file by name.
 *
 * What is here: the staging area of downloads, the commit of a staged file
 * into the store (with an optional "already hashed" shortcut), and the raw
 * cross-process lock file descriptors.  Ordinary programs use
 * ap_store_import() (which always hashes) and ap_provision() instead.
 */
#ifndef ARTIFACTPROV_SYS_STORE_H
#define ARTIFACTPROV_SYS_STORE_H

#include "../store.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Absolute path of the staging file for `key` (any string identifying the
 * download: it is hashed into a safe file name).  The sidecar state lives
 * beside it with the suffix ".state".  Free with ap_free.
 */
AP_EXPORT int ap_store_staging_path(ap_store *store, const char *key,
                                    char **out);

/**
 * Commit a fully written staging file as the blob `sha256_hex`: re-checks
 * nothing when `trusted_digest` is non-zero (the caller already hashed the
 * bytes while they arrived, as the download engine does), otherwise hashes
 * the file first; on a mismatch the staging file and its sidecar are
 * deleted and AP_EDIGEST is returned.  On success the staging file and its
 * sidecar are gone.  If the blob already exists the staging file is
 * discarded and AP_OK is returned.  The staging file must be a regular
 * file (not followed if a symlink); the commit fsyncs it, makes it
 * read-only and renames it into place under the per-blob lock "<hex>".
 */
AP_EXPORT int ap_store_commit(ap_store *store, const char *staging_path,
                              const char *sha256_hex, int trusted_digest);

/**
 * Take an exclusive cross-process lock named `name` (e.g. a blob digest or
 * an entry id), waiting for it.  *out_fd receives the lock; release it with
 * ap_store_unlock().  `name` must be one valid path component of at most
 * 200 bytes.  flock(2) locks are per open file: taking the same name twice
 * in one process blocks.  ap_store_commit/import take "<hex>" themselves;
 * a caller serialising the download of a blob uses "blob-<hex>", which gc
 * and ap_store_remove_blob respect as well.  The wait cannot be
 * cancelled: a caller that must stay cancellable polls ap_store_trylock().
 */
AP_EXPORT int ap_store_lock(ap_store *store, const char *name, int *out_fd);
/** Like ap_store_lock() but never waits: AP_EBUSY when another holder has it. */
AP_EXPORT int ap_store_trylock(ap_store *store, const char *name, int *out_fd);
/** Release a lock taken by ap_store_lock() or ap_store_trylock(). */
AP_EXPORT void ap_store_unlock(int fd);

#ifdef __cplusplus
}
#endif

#endif
