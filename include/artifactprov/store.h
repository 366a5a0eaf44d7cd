/* libartifactprov — the content-addressed store.
 * SPDX-License-Identifier: MIT
 *
 * Layout under the root ($AP_HOME, else $XDG_CACHE_HOME/artifactprov, else
 * ~/.cache/artifactprov):
 *
 *     blobs/sha256/<2 hex>/<64 hex>   committed blobs, read-only
 *     staging/                        partial downloads + sidecar state
 *     catalog/<id>.json               catalog documents (see catalog.h)
 *     models/<vendor>/<name>/<path>   human view: links into blobs/
 *     locks/                          flock files
 *
 * A blob becomes visible only once its bytes are hashed, fsynced, made
 * read-only and renamed into place under a per-blob lock (downloads by
 * ap_provision(), local files by ap_store_import()).  A committed blob is
 * never rewritten.  The staging area, the commit of staged files and the
 * raw lock descriptors are internals: <artifactprov/sys/store.h>.
 *
 * Thread safety: one thread at a time per handle; several processes may
 * share one root (cross-process locks are flock(2) files under locks/).
 */
#ifndef ARTIFACTPROV_STORE_H
#define ARTIFACTPROV_STORE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ap_store ap_store;

/** Length of a hex sha256 string, without the terminating NUL. */
#define AP_SHA256_HEX_LEN 64

/**
 * The default root: $AP_HOME, else $XDG_CACHE_HOME/artifactprov, else
 * $HOME/.cache/artifactprov.  *out is freed with ap_free().
 */
AP_EXPORT int ap_store_default_root(char **out);

/** Open (creating directories as needed) the store at root (NULL: default). */
AP_EXPORT int ap_store_open(ap_store **out, const char *root);
AP_EXPORT void ap_store_close(ap_store *store);

/** The store's absolute root path (borrowed). */
AP_EXPORT const char *ap_store_root(const ap_store *store);

/** Detailed message of the last failure on this handle (borrowed, never NULL). */
AP_EXPORT const char *ap_store_errmsg(const ap_store *store);

/** 1 when a committed blob with this sha256 exists, 0 when not. */
AP_EXPORT int ap_store_has_blob(ap_store *store, const char *sha256_hex);

/** Absolute path of a blob (whether or not it exists); free with ap_free. */
AP_EXPORT int ap_store_blob_path(ap_store *store, const char *sha256_hex,
                                 char **out);

/**
 * Import an existing regular file as a blob.  The file is always hashed and
 * the digest is computed from the bytes placed; when expected_sha256 is
 * given and differs, nothing is imported and AP_EDIGEST is returned ("want
 * W, got G" in ap_store_errmsg).  A FIFO, socket or device is refused
 * without blocking.
 *
 * By default the blob is the store's own: a reflink (FICLONE) where the
 * file system supports it, else a copy through a temporary name, fsynced
 * and renamed into place; it never shares an inode with the source, and it
 * keeps no more read permission than the source had (a 0600 file gives a
 * 0400 blob).  With AP_IMPORT_LINK it is a hard link to the source when on
 * the same file system (else a copy): this trusts whoever may write the
 * source, since an in-place write there changes the blob (ap_store_verify
 * then reports it corrupt); the blob keeps the source's mode.
 * out_sha256 (65 bytes, may be NULL) receives the digest.
 */
#define AP_IMPORT_LINK 0x1u
AP_EXPORT int ap_store_import(ap_store *store, const char *path,
                              const char *expected_sha256, unsigned flags,
                              char out_sha256[AP_SHA256_HEX_LEN + 1]);

/**
 * Create (or replace) the human view models/<vendor>/<name>/<relpath> as a
 * hard link to the blob, or a relative symlink when hard links fail.  All
 * components are validated; writes never follow symlinks.  *out_path
 * (may be NULL) receives the absolute view path, freed with ap_free.
 */
AP_EXPORT int ap_store_link_view(ap_store *store, const char *vendor,
                                 const char *name, const char *relpath,
                                 const char *sha256_hex, char **out_path);

/** Remove the human view directory models/<vendor>/<name>. */
AP_EXPORT int ap_store_unlink_view(ap_store *store, const char *vendor,
                                   const char *name);

/**
 * Validate a relative path coming from a vendor or a document: non-empty,
 * not absolute, no "." or ".." or empty segment, no backslash, no NUL or
 * control character, at most 4096 bytes.  Returns AP_OK or AP_EPATH.
 */
AP_EXPORT int ap_path_validate(const char *relpath);

/** Report callback for verify and gc: one call per blob or file acted on. */
typedef int (*ap_store_report_cb)(const char *what, const char *path,
                                  uint64_t bytes, void *user);

#define AP_VERIFY_REMOVE 0x1u  /**< remove blobs whose content is wrong */

/**
 * Re-hash every blob.  Calls report("corrupt", path, size) for each bad
 * one (and removes it with AP_VERIFY_REMOVE).  *n_bad receives the count.
 */
AP_EXPORT int ap_store_verify(ap_store *store, unsigned flags,
                              ap_store_report_cb report, void *user,
                              size_t *n_checked, size_t *n_bad);

/**
 * Remove blobs not named in `keep` (a sorted or unsorted array of hex
 * digests) and staging files untouched for `stale_seconds` (with their
 * sidecars; a staging file whose sidecar was touched recently is kept),
 * download staging files with no sidecar at any age when their staging
 * lock is free (nothing can resume them), plus stale temporary files.  Blobs whose lock ("<hex>" or "blob-<hex>")
 * is held are skipped.  Calls report("blob"|"staging"|"tmp", path, bytes);
 * a non-zero return stops with AP_EUSER.  *freed receives the bytes freed.
 */
AP_EXPORT int ap_store_gc(ap_store *store, const char *const *keep,
                          size_t n_keep, unsigned stale_seconds,
                          ap_store_report_cb report, void *user,
                          uint64_t *freed);

/** Free bytes available to unprivileged users on the store's filesystem. */
AP_EXPORT int ap_store_free_space(ap_store *store, uint64_t *out_bytes);

/**
 * Remove one blob (unless its lock "<hex>" or "blob-<hex>" is held by
 * someone: AP_EBUSY).  AP_ENOTFOUND when absent.  Used by
 * ap_catalog_remove(); a committed blob is otherwise never touched.
 */
AP_EXPORT int ap_store_remove_blob(ap_store *store, const char *sha256_hex);

#ifdef __cplusplus
}
#endif

#endif
