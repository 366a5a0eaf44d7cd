/* libartifactprov — the vendor ABI ("VendorSource").
 * SPDX-License-Identifier: MIT
 *
 * A vendor turns a reference ("hf:org/repo/file") into a manifest of files
 * the core engine then fetches, verifies and stores.  A vendor is a shared
 * object `ap-vendor-NAME.so` exporting one entry symbol derived from its
 * file name, `ap_vendor_NAME_init` (with '-' mapped to '_'), of type
 * ap_vendor_init_fn.  The same object can be linked statically and handed
 * to ap_provisioner_register_vendor().
 *
 * Versioning.  Both tables below begin with struct_size, abi_major and
 * abi_minor.  The host accepts a vendor when its abi_major equals the
 * host's and its abi_minor is not newer than the host's; it copies
 * min(struct_size, sizeof) bytes into a zeroed table of its own and treats
 * an appended member as present only when struct_size covers it and it is
 * non-NULL.  Vendors must do the same with the host table.  Members are
 * only ever appended; a removal or change of meaning bumps the major.
 *
 * Ownership.  Everything a vendor passes to the host is borrowed for the
 * duration of the call and copied.  What the host returns (responses), the
 * host frees (http_free).  A vendor keeps no mutable global state: what it
 * needs lives in the state created by `create`.
 *
 * Paths.  The host validates every path a vendor adds (relative, no "..",
 * no empty segment, no NUL or control character) before anything touches
 * the disk, so a vendor cannot escape the store.
 *
 * Threads.  One provisioner calls its vendors from one thread at a time.
 *
 * A vendor needs neither libcurl nor libsodium: HTTP goes through the host
 * (which injects tokens only for the host they belong to and never forwards
 * them across a redirect to another host).  jansson is fine for parsing.
 */
#ifndef ARTIFACTPROV_VENDOR_H
#define ARTIFACTPROV_VENDOR_H

#include "common.h"
#include "events.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AP_VENDOR_ABI_MAJOR 1
#define AP_VENDOR_ABI_MINOR 1  /* 1.1: ap_vendor_file.local_path */

/** Size value meaning "not known". */
#define AP_SIZE_UNKNOWN UINT64_MAX

/** Opaque per-call context: the resolve or download in progress. */
typedef struct ap_vendor_call ap_vendor_call;

/* Log levels for ap_host.log: ap_log_level (events.h), same values. */

/** An HTTP request made through the host. */
typedef struct ap_http_request {
    size_t struct_size;
    const char *method;            /**< "GET" (default when NULL) or "HEAD" */
    const char *url;
    const char *const *headers;    /**< NULL-terminated "Name: value" list */
    const char *bearer;            /**< token for "Authorization: Bearer", or NULL */
    int follow_redirects;          /**< 0: a 3xx is returned as is;
                                        1: follow, dropping `bearer` and
                                        `headers` once the host changes */
    size_t max_body;               /**< 0 = 16 MiB; larger bodies fail */
} ap_http_request;

#define AP_HTTP_REQUEST_INIT { sizeof(ap_http_request), NULL, NULL, NULL, \
                               NULL, 0, 0 }

/** An HTTP response, owned by the host; release with ap_host.http_free. */
typedef struct ap_http_response {
    size_t struct_size;
    long status;                   /**< e.g. 200, 302, 404 */
    const char *url;               /**< the URL that produced this answer */
    const char *body;              /**< NUL-terminated (body_len excludes it) */
    size_t body_len;
} ap_http_response;

/** File flags. */
#define AP_VFILE_METADATA 0x1u  /**< small metadata (config, tokenizer) */

/** One file of a resolved artifact, as described by the vendor. */
typedef struct ap_vendor_file {
    size_t struct_size;
    const char *path;              /**< relative path in the artifact */
    uint64_t size;                 /**< bytes, or AP_SIZE_UNKNOWN */
    const char *sha256;            /**< lower-case hex, or NULL if unknown */
    const char *git_sha1;          /**< git blob sha1 hex to verify, or NULL */
    const char *url;               /**< where the bytes are */
    const char *const *headers;    /**< extra request headers, NULL-terminated */
    const char *bearer;            /**< token, sent only to bearer_host */
    const char *bearer_host;       /**< host name the token belongs to */
    const char *etag;              /**< validator for resume, or NULL */
    unsigned flags;                /**< AP_VFILE_* */
    /* ABI 1.1 */
    const char *local_path;        /**< a local copy of the same bytes (e.g. in
                                        another tool's cache) the host may import
                                        instead of downloading; it is checked
                                        against sha256 / git_sha1 and, when it
                                        does not match, ignored for url */
} ap_vendor_file;

#define AP_VENDOR_FILE_INIT { sizeof(ap_vendor_file), NULL, AP_SIZE_UNKNOWN, \
                              NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL }

/** What the vendor says about the artifact as a whole. */
typedef struct ap_vendor_artifact {
    size_t struct_size;
    const char *name;              /**< human name, e.g. "org/repo" */
    const char *revision;          /**< resolved revision (commit), or NULL */
    const char *canonical;         /**< canonical reference, or NULL */
} ap_vendor_artifact;

#define AP_VENDOR_ARTIFACT_INIT { sizeof(ap_vendor_artifact), NULL, NULL, NULL }

/** The host's function table, handed to the vendor's entry point. */
typedef struct ap_host {
    size_t struct_size;
    unsigned abi_major;
    unsigned abi_minor;

    /** Perform an HTTP request.  On AP_OK *out holds the response (any
     *  status); on failure (network, cancel, body too large) the call's
     *  error message is already set and *out is NULL. */
    int (*http)(ap_vendor_call *call, const ap_http_request *req,
                ap_http_response **out);
    /** Last value of a response header (case-insensitive), or NULL. */
    const char *(*http_header)(const ap_http_response *resp,
                               const char *name);
    void (*http_free)(ap_http_response *resp);

    /** Add a file to the manifest being resolved (copied, validated). */
    int (*add_file)(ap_vendor_call *call, const ap_vendor_file *file);
    /** Describe the artifact (copied). */
    int (*set_artifact)(ap_vendor_call *call, const ap_vendor_artifact *a);

    /** Set the call's error message; returns `status` for tail calls. */
    int (*set_error)(ap_vendor_call *call, int status, const char *fmt, ...)
        AP_PRINTF(3, 4);
    /** A note for the job's events: a LOG event whose `level` is `level`
     *  (an ap_log_level, AP_LOG_ERROR..AP_LOG_DEBUG; out of range: ERROR)
     *  and whose status is AP_OK. */
    void (*log)(ap_vendor_call *call, int level, const char *fmt, ...)
        AP_PRINTF(3, 4);

    /** Environment lookup (the host may override variables). */
    const char *(*getenv)(ap_vendor_call *call, const char *name);
    /** A caller-supplied option "key" for this call, or NULL. */
    const char *(*option)(ap_vendor_call *call, const char *key);

    /** Non-zero once the call is cancelled. */
    int (*is_cancelled)(ap_vendor_call *call);
    /** Report progress from a custom download; non-zero means abort. */
    int (*progress)(ap_vendor_call *call, uint64_t done, uint64_t total);
} ap_host;

/** The vendor's descriptor, returned by its entry point. */
typedef struct ap_vendor {
    size_t struct_size;
    unsigned abi_major;
    unsigned abi_minor;

    const char *name;              /**< e.g. "huggingface" */
    const char *version;           /**< the vendor's own version */
    const char *description;
    const char *const *schemes;    /**< NULL-terminated, e.g. {"hf", NULL} */

    /** Create per-provisioner state (may set *state to NULL). */
    int (*create)(const ap_host *host, void **state);
    void (*destroy)(void *state);

    /**
     * Resolve `ref` (the whole reference, scheme included) into files with
     * host->add_file and host->set_artifact.  Return AP_OK or a negative
     * ap_status after host->set_error.  Required.
     */
    int (*resolve)(void *state, ap_vendor_call *call, const char *ref);

    /**
     * Optional: write the bytes of `file` to `fd` (positioned at 0) for
     * vendors whose data does not come over plain HTTP.  Must check
     * host->is_cancelled and report host->progress.  When NULL, the core
     * engine fetches file->url.
     */
    int (*download)(void *state, ap_vendor_call *call,
                    const ap_vendor_file *file, int fd);
} ap_vendor;

/** Type of the entry point `ap_vendor_NAME_init`. */
typedef const ap_vendor *(*ap_vendor_init_fn)(const ap_host *host);

#ifdef __cplusplus
}
#endif

#endif
