/* libartifactprov — status codes, global init, shared definitions.
 * SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_COMMON_H
#define ARTIFACTPROV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(AP_BUILDING_LIBRARY) && defined(__GNUC__)
#define AP_EXPORT __attribute__((visibility("default")))
#else
#define AP_EXPORT
#endif

#if defined(__GNUC__)
#define AP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define AP_PRINTF(fmt, args)
#endif

/**
 * Status codes.  Every function that can fail returns AP_OK (0) or one of
 * these negative values.  The list is append-only: a value, once released,
 * never changes meaning and is never removed.
 */
typedef enum ap_status {
    AP_OK = 0,
    AP_ERROR = -1,        /**< unclassified failure */
    AP_EINVAL = -2,       /**< bad argument or malformed reference */
    AP_ENOMEM = -3,       /**< out of memory */
    AP_EIO = -4,          /**< local I/O error (read, write, rename, fsync) */
    AP_ENOTFOUND = -5,    /**< repository, revision, file or entry not found */
    AP_EAUTH = -6,        /**< authentication required or token refused */
    AP_EGATED = -7,       /**< gated resource: accept its licence first */
    AP_EDIGEST = -8,      /**< content digest mismatch */
    AP_ESIZE = -9,        /**< size mismatch or truncated body */
    AP_ECANCELLED = -10,  /**< cancelled through an ap_cancel_token */
    AP_ENETWORK = -11,    /**< connection failed, reset, timed out */
    AP_EHTTP = -12,       /**< unexpected HTTP status */
    AP_EPROTOCOL = -13,   /**< server answer does not follow the protocol */
    AP_ENOSPC = -14,      /**< not enough space on the store's filesystem */
    AP_EVENDOR = -15,     /**< no vendor for this scheme, or vendor failure */
    AP_EABI = -16,        /**< vendor plugin refused: ABI mismatch */
    AP_EUNSUPPORTED = -17,/**< operation not supported */
    AP_EBUSY = -18,       /**< resource locked by another job or process */
    AP_ERATELIMIT = -19,  /**< rate limited by the server */
    AP_EOFFLINE = -20,    /**< offline mode and the data is not local */
    AP_EUSER = -21,       /**< a user callback returned non-zero */
    AP_EEXIST = -22,      /**< already exists */
    AP_ECORRUPT = -23,    /**< stored data or document is corrupt */
    AP_EPATH = -24,       /**< hostile or invalid path from a vendor */
    AP_ETIMEDOUT = -25    /**< a wait ended before the awaited event */
} ap_status;

/** Static, English description of a status code.  Never NULL. */
AP_EXPORT const char *ap_strerror(int status);

/**
 * The calling thread's last error, in libgit2's manner.  Every public
 * function that fails records its status and a detailed message (naming
 * the artifact, file, job or document and the cause) as the last error of
 * the thread that called it, before it returns; functions that succeed
 * leave it alone, so read it right after a failure, on the same thread.
 *
 * It is the only channel for calls without a handle (ap_entry_from_json(),
 * ap_entry_to_json(), the ap_jobs_* functions, a failed
 * ap_provisioner_new(), which returns no handle) and agrees with the
 * handle-specific ap_provisioner_errmsg(), ap_store_errmsg() and
 * ap_catalog_errmsg() after a failure of that handle's call.
 */
typedef struct ap_error {
    int status;          /**< the ap_status of the failure; AP_OK when none
                              was recorded on this thread (or cleared) */
    const char *message; /**< detailed English message, never NULL ("" when
                              status is AP_OK); credentials in URLs are
                              replaced by "***" */
} ap_error;

/**
 * The calling thread's last error.  Never NULL.  The storage belongs to the
 * thread (a fixed buffer: recording an error never allocates, and nothing
 * needs freeing when the thread exits); the pointer stays valid for the
 * thread's life, its contents until the thread's next failing call or
 * ap_error_clear().  Copy the message to keep it.  Works without
 * ap_global_init().
 */
AP_EXPORT const ap_error *ap_error_last(void);

/** Forget the calling thread's last error (status AP_OK, message ""). */
AP_EXPORT void ap_error_clear(void);

/**
 * Initialise the library (libcurl, libsodium, digests).  Reference counted
 * and thread-safe: call once per user of the library, pair with
 * ap_global_cleanup().  Returns AP_OK or a negative ap_status.
 */
AP_EXPORT int ap_global_init(void);

/** Drop one reference taken by ap_global_init(); the last one cleans up. */
AP_EXPORT void ap_global_cleanup(void);

/** Run-time version string, e.g. "0.1.0". */
AP_EXPORT const char *ap_version(void);

/** Run-time AP_VERSION_NUM. */
AP_EXPORT unsigned ap_version_num(void);

/**
 * Free memory returned by the library (strings and arrays documented as
 * "free with ap_free").  NULL is accepted.
 */
AP_EXPORT void ap_free(void *ptr);

/**
 * A copy of s that is valid UTF-8: each byte that does not belong to a
 * valid sequence (RFC 3629: no overlong form, no surrogate, at most
 * U+10FFFF) becomes U+FFFD.  For text from servers or files that a
 * program puts in JSON or on a terminal.  NULL when s is NULL or out of
 * memory; free with ap_free().  Since 0.5.
 */
AP_EXPORT char *ap_utf8_repair(const char *s);

/**
 * `bytes` for people, in IEC units with one decimal: "512 B", "976.6 KiB",
 * "1.2 GiB" (up to TiB) -- the sizes of apctl's display and the library's
 * messages.  Writes at most `size` bytes into buf (snprintf's rules) and
 * returns snprintf's result.  Since 0.5.
 */
AP_EXPORT int ap_format_size(uint64_t bytes, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
