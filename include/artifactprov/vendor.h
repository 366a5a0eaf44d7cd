/* libartifactprov — the vendor ABI ("VendorSource"), version 2.
 * SPDX-License-Identifier: MIT
 *
 * A vendor turns a reference ("scheme:...") into a manifest of files the
 * core engine then fetches, verifies and stores.  A vendor is a shared
 * object `ap-vendor-NAME.so` exporting one entry symbol derived from its
 * file name, `ap_vendor_NAME_init` (with '-' mapped to '_'), of type
 * ap_vendor_init_fn; declare it with AP_VENDOR_ENTRY(NAME).  The same
 * object can be linked statically and handed to
 * ap_provisioner_register_vendor().
 *
 * Versioning (docs/vendor-abi.md).  Every table below begins with
 * `struct_size`; ap_host and ap_vendor then carry `abi_version`, the ABI
 * major.  That pair is the only version mechanism:
 *  - the host accepts a vendor whose abi_version equals
 *    AP_VENDOR_ABI_VERSION and whose struct_size covers every required
 *    member (up to `resolve`); it copies min(struct_size, sizeof) bytes into
 *    a zeroed table of its own, so a vendor built against newer headers
 *    (a larger struct_size, members appended) is accepted and the members
 *    the host does not know are ignored;
 *  - a member is present only when struct_size covers it and it is
 *    non-NULL: test with AP_HOST_HAS(host, member) in a vendor, the host
 *    uses AP_VENDOR_HAS(vendor, member);
 *  - members are only ever appended; removing one or changing its meaning
 *    bumps AP_VENDOR_ABI_VERSION, and a vendor of another version is
 *    refused with AP_EABI (an ABI-1 vendor included).
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
 * Threads.  `create` and `destroy` are called once per provisioner (an
 * ap_jobs registry creates one provisioner per worker, so `create` runs on
 * several threads at once, each with its own state).  `resolve`,
 * `download` and `publish` receive the state of one provisioner and are
 * never called concurrently for one state; calls on different states run
 * concurrently.  Every host function is thread-safe for distinct calls
 * (ap_vendor_call); one call must not be used from two threads at once.
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

/** The vendor ABI version (a major: members are appended without a bump). */
#define AP_VENDOR_ABI_VERSION 2

/** Visibility for a vendor's entry point (vendors build with
 *  -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#define AP_VENDOR_EXPORT __attribute__((visibility("default")))
#else
#define AP_VENDOR_EXPORT
#endif

/** Declare and define the entry point of vendor NAME:
 *      AP_VENDOR_ENTRY(myvendor) { return &descriptor; }
 *  defines `const ap_vendor *ap_vendor_myvendor_init(const ap_host *host)`
 *  exported with default visibility. */
#define AP_VENDOR_ENTRY(NAME)                                               \
    AP_VENDOR_EXPORT const ap_vendor *ap_vendor_##NAME##_init(const ap_host *host); \
    AP_VENDOR_EXPORT const ap_vendor *ap_vendor_##NAME##_init(const ap_host *host)

/** Non-zero when the table `p` (of type `type`, starting with struct_size)
 *  is long enough to contain `member`. */
#define AP_STRUCT_COVERS(p, type, member)                                   \
    ((p) != NULL && (p)->struct_size >= offsetof(type, member) +           \
                                        sizeof(((const type *)0)->member))

/** In a vendor: non-zero when the host table offers `member` (struct_size
 *  covers it and it is non-NULL). */
#define AP_HOST_HAS(host, member)                                           \
    (AP_STRUCT_COVERS(host, ap_host, member) && (host)->member != NULL)

/** In the host: non-zero when a vendor descriptor offers `member`. */
#define AP_VENDOR_HAS(vendor, member)                                       \
    (AP_STRUCT_COVERS(vendor, ap_vendor, member) && (vendor)->member != NULL)

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
/** Made on this machine (a build output, appended in 0.3): there is nothing
 *  remote to check its bytes against -- its inputs were provisioned, and
 *  verified, on their own.  Recorded as verification "local", never warned
 *  as unverified, accepted by AP_PROVISION_REQUIRE_VERIFIED (which then
 *  applies to the inputs a vendor provisions through host->provision). */
#define AP_VFILE_LOCAL 0x2u

/** One file of a resolved artifact, as described by the vendor.  Required:
 *  struct_size, path, and url unless the vendor has `download`; every other
 *  member is optional (NULL / AP_SIZE_UNKNOWN / 0). */
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
    const char *local_path;        /**< optional: a local copy of the same
                                        bytes (e.g. in another tool's cache)
                                        the host may import instead of
                                        downloading; it is checked against
                                        sha256 / git_sha1 and, when it does
                                        not match, ignored for url */
    const char *local_root;        /**< optional (new in ABI 2): when set,
                                        local_path is relative to this
                                        absolute directory (a foreign cache)
                                        and the host opens it beneath it:
                                        symbolic links are followed only
                                        while they stay below local_root, a
                                        FIFO, socket or device is never
                                        opened.  Required by a `scan` */
    /* Appended in ABI 2 (0.3): a detached signature the host verifies.
     * Honoured only by a host whose vendor_file_size covers them: test
     * AP_HOST_FILE_HAS(host, signature) before relying on them. */
    const char *signature;         /**< optional: a minisign signature of the
                                        file (the text of its .minisig).  The
                                        host verifies the bytes against it
                                        (Ed25519; the trusted comment too)
                                        before anything is committed; a bad
                                        or foreign signature fails the file
                                        with AP_EDIGEST / AP_EAUTH */
    const char *public_key;        /**< the trusted minisign public key for
                                        `signature` (the base64 line, or the
                                        contents of a .pub file); required
                                        with it.  Comes from the user, never
                                        from the server that sent the file */
    const char *describe;          /**< optional (appended to ABI 2): what
                                        the file is, for the messages of a
                                        failed transfer beside its path
                                        (e.g. "layer <media type>
                                        sha256:<hex>"), or NULL */
} ap_vendor_file;

#define AP_VENDOR_FILE_INIT { sizeof(ap_vendor_file), NULL, AP_SIZE_UNKNOWN, \
                              NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, \
                              NULL, NULL, NULL, NULL }

/** What the vendor says about the artifact as a whole (all optional). */
typedef struct ap_vendor_artifact {
    size_t struct_size;
    const char *name;              /**< human name, e.g. "org/repo" */
    const char *revision;          /**< resolved revision (commit), or NULL */
    const char *canonical;         /**< canonical reference, or NULL */
} ap_vendor_artifact;

#define AP_VENDOR_ARTIFACT_INIT { sizeof(ap_vendor_artifact), NULL, NULL, NULL }

/** One verified file of a ready entry, as handed to a vendor's `publish`. */
typedef struct ap_vendor_published_file {
    size_t struct_size;
    const char *path;              /**< relative path in the artifact */
    const char *blob_path;         /**< absolute path of the verified bytes
                                        in the store: read them, never write */
    const char *sha256;            /**< lower-case hex, computed by the host */
    const char *git_sha1;          /**< the git blob id the vendor gave at
                                        resolve time (verified), or NULL */
    uint64_t size;                 /**< bytes */
} ap_vendor_published_file;

/** A completed, ready entry, as handed to a vendor's `publish`. */
typedef struct ap_vendor_publication {
    size_t struct_size;
    const char *ref;               /**< the reference as requested */
    const char *name;              /**< the artifact name (set_artifact) */
    const char *revision;          /**< resolved revision, or NULL */
    const char *canonical;         /**< canonical reference, or NULL */
    const ap_vendor_published_file *const *files; /**< nfiles pointers */
    size_t nfiles;
} ap_vendor_publication;

/** One file of a ready catalog entry, as host->catalog_files reports it. */
typedef struct ap_vendor_entry_file {
    size_t struct_size;
    const char *entry_ref;         /**< the entry's canonical reference */
    const char *revision;          /**< the entry's resolved revision, or NULL */
    const char *path;              /**< relative path in the artifact */
    const char *sha256;            /**< lower-case hex */
    const char *git_sha1;          /**< git blob id, or NULL */
    uint64_t size;
    const char *blob_path;         /**< absolute path of its bytes in the store */
} ap_vendor_entry_file;

/**
 * The host's function table, handed to the vendor's entry point and to
 * `create`.  A host of ABI 2 fills every member listed here; a vendor
 * still tests AP_HOST_HAS() for each member it calls, so that it runs on
 * an older host of the same major that lacks members appended later.
 * Every function may be called from several threads for distinct calls.
 */
typedef struct ap_host {
    size_t struct_size;            /**< sizeof(ap_host) of the host */
    unsigned abi_version;          /**< AP_VENDOR_ABI_VERSION of the host */

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

    /** Environment lookup.  The caller's per-request overrides come first
     *  (ap_provision_options.vendor_options key "env:NAME"), then the
     *  process environment.  Vendors read every variable through here. */
    const char *(*getenv)(ap_vendor_call *call, const char *name);
    /** The caller's per-request option `key` for this call
     *  (ap_provision_options.vendor_options), or NULL when not given.
     *  Borrowed for the duration of the call. */
    const char *(*option)(ap_vendor_call *call, const char *key);

    /** Non-zero once the call is cancelled. */
    int (*is_cancelled)(ap_vendor_call *call);
    /** Report progress from a custom download; non-zero means abort. */
    int (*progress)(ap_vendor_call *call, uint64_t done, uint64_t total);

    /* New in ABI 2: writing into a foreign layout, for `publish`.  `root`
     * is an absolute directory, created when missing; `rel` is a relative
     * path checked like a manifest path (no "..", no empty or "."
     * component); the directories of `rel` below `root` are created, and
     * none of them may be a symbolic link (AP_EPATH).  Every write is
     * atomic (temporary name, fsync, rename).  On failure the call's error
     * names the path and the cause. */

    /** Place a copy of the store blob `blob_path` (a reflink where the
     *  file system can, else a copy; never a hard link) at root/rel, mode
     *  0644.  A regular file already at root/rel is kept: use it for
     *  content-addressed names. */
    int (*put_copy)(ap_vendor_call *call, const char *root, const char *rel,
                    const char *blob_path);
    /** Make root/rel a symbolic link to `target`, replacing what is there.
     *  `target` must be relative and, read from the directory of rel, stay
     *  below root. */
    int (*put_symlink)(ap_vendor_call *call, const char *root,
                       const char *rel, const char *target);
    /** Write `len` bytes to root/rel (replacing it), mode 0644. */
    int (*put_bytes)(ap_vendor_call *call, const char *root, const char *rel,
                     const void *data, size_t len);

    /* New in ABI 2: reading a foreign cache, for `scan` (and for a
     * `resolve` that serves from one). */

    /** Read the regular file root/rel (at most cap - 1 bytes, then a NUL)
     *  into buf; *len gets its length.  Links are followed only while they
     *  stay below root; a FIFO, socket or device is never opened.
     *  AP_ENOTFOUND when absent, AP_ESIZE when larger, AP_EPATH for a link
     *  leading out (the message names the link and its target).  During a
     *  scan a failure is also listed as a warning with its cause (the
     *  vendor need not warn again). */
    int (*read_beneath)(ap_vendor_call *call, const char *root,
                        const char *rel, char *buf, size_t cap, size_t *len);
    /** During `scan`: import the files added since the last commit (each
     *  with local_root and local_path; sha256 / git_sha1 are the cache's
     *  claims) and record them as one ready entry described by the last
     *  set_artifact (its `canonical` reference names the entry, its name
     *  the view).  The host computes every digest from the bytes; a file
     *  that is not what it claims, unreadable or unsafe is skipped with a
     *  warning (ap_provisioner_warning).  The file list and artifact are
     *  then reset for the next entry.  AP_OK, or a fatal status (out of
     *  memory, the catalog cannot be written). */
    int (*commit_entry)(ap_vendor_call *call);
    /** During `scan`: report an item skipped (a malformed manifest, an
     *  unsafe name); it counts in ap_scan_stats.skipped and is listed by
     *  ap_provisioner_warning(). */
    void (*warn)(ap_vendor_call *call, const char *fmt, ...) AP_PRINTF(2, 3);

    /** New in ABI 2: what the catalog already holds, so a vendor can serve
     *  a reference from it when its origin cannot be reached (offline):
     *  call `each` for every file present in the store of every ready
     *  entry of this vendor whose canonical reference is `prefix` or
     *  starts with `prefix` followed by '/', ':' or '@' (the vendor
     *  selects among them and adds what it picked with add_file, e.g. with
     *  a file:// URL of blob_path).  The records are borrowed for the
     *  callback; a non-zero return from `each` stops with that value.
     *  AP_ENOTFOUND when nothing matches, and always when the caller
     *  demanded a fresh check with the origin (AP_PROVISION_REFRESH). */
    int (*catalog_files)(ap_vendor_call *call, const char *prefix,
                         int (*each)(void *user, const ap_vendor_entry_file *f),
                         void *user);

    /** sizeof(ap_vendor_file) as the host knows it (appended in 0.3): the
     *  ap_vendor_file members it honours.  A member beyond it is ignored by
     *  the host, so a vendor tests AP_HOST_FILE_HAS() before handing one
     *  whose loss would matter (a signature). */
    size_t vendor_file_size;

    /** Appended to ABI 2 (present when AP_HOST_HAS(host, provision)):
     *  provision another reference `ref` now, through the same provisioner
     *  and with the caller's cancel token, per-request options, CA file and
     *  AP_PROVISION_REFRESH flag (its files put in place are logged in the
     *  caller's job, whose heartbeat goes on meanwhile; an abort asked by
     *  the caller's event callback aborts it), then call `each` for every
     *  file of the
     *  ready entry (the records are borrowed for the callback: blob_path is
     *  the store's copy of the bytes, to read and never write; entry_ref is
     *  the entry's canonical reference).  For vendors whose artifacts are
     *  made from others (a build's inputs); call it from `resolve`.  A
     *  reference already being provisioned by this thread's chain of calls
     *  (itself, or a cycle through other vendors), or a chain deeper than
     *  8, is refused with AP_EINVAL.  A failure returns its status with the
     *  call's error naming `ref` and the cause; a non-zero return from
     *  `each` stops with that value. */
    int (*provision)(ap_vendor_call *call, const char *ref,
                     int (*each)(void *user, const ap_vendor_entry_file *f),
                     void *user);
} ap_host;

/** In a vendor: non-zero when the host honours ap_vendor_file `member`. */
#define AP_HOST_FILE_HAS(host, member)                                      \
    (AP_STRUCT_COVERS(host, ap_host, vendor_file_size) &&                  \
     (host)->vendor_file_size >= offsetof(ap_vendor_file, member) +        \
                                 sizeof(((const ap_vendor_file *)0)->member))

/**
 * The vendor's descriptor, returned by its entry point.  Required:
 * struct_size, abi_version, name, schemes, resolve.  Everything else is
 * optional (NULL when absent); the host tests AP_VENDOR_HAS().
 */
typedef struct ap_vendor {
    size_t struct_size;            /**< sizeof(ap_vendor) the vendor built with */
    unsigned abi_version;          /**< AP_VENDOR_ABI_VERSION it built with */

    const char *name;              /**< required, e.g. "myhub" */
    const char *version;           /**< optional: the vendor's own version */
    const char *description;       /**< optional */
    const char *const *schemes;    /**< required, NULL-terminated, e.g.
                                        {"myhub", NULL} */

    /** Optional: create per-provisioner state (may set *state to NULL).
     *  Called once per provisioner, possibly on several threads at once. */
    int (*create)(const ap_host *host, void **state);
    /** Optional: release what create made. */
    void (*destroy)(void *state);

    /**
     * Required: resolve `ref` (the whole reference, scheme included) into
     * files with host->add_file and host->set_artifact.  Return AP_OK or a
     * negative ap_status after host->set_error.
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

    /**
     * Optional (new in ABI 2): the grammar of the references this vendor
     * accepts, one line, e.g. "myhub:ORG/NAME[@REV]".  Shown by
     * `apctl --help` and in the error for an unknown scheme or a bad
     * reference.
     */
    const char *usage;

    /**
     * Optional (new in ABI 2): called after every successful provision
     * that made `pub` the catalog's ready entry, so the vendor can publish
     * it into a foreign layout (another tool's cache) with host->put_*.
     * The vendor decides from the caller's options (host->option) or the
     * environment (host->getenv) whether to do anything; return AP_OK when
     * there is nothing to do.  A failure fails the request (the entry
     * stays ready) with the vendor's message.
     */
    int (*publish)(void *state, ap_vendor_call *call,
                   const ap_vendor_publication *pub);

    /**
     * Optional (new in ABI 2): import a foreign cache (another tool's
     * download directory) without any transfer — ap_provisioner_scan().
     * `dir` is the caller's directory, or NULL for the vendor's default
     * (read through host->getenv).  For each artifact found: add its files
     * with local_root / local_path and the digests the cache claims,
     * set_artifact, then host->commit_entry.  Report what is skipped with
     * host->warn.  Files added and not committed are discarded.
     */
    int (*scan)(void *state, ap_vendor_call *call, const char *dir);

    /**
     * Optional (new in ABI 2 with library 0.4): check the syntax of `ref` (the
     * whole reference, scheme included) without any I/O, state or host
     * call, so a daemon can refuse a malformed reference when it is
     * submitted rather than in a job that fails later
     * (ap_vendor_set_check_ref).  Return AP_OK, or AP_EINVAL with the cause
     * in err (one line, without the reference or the grammar: the host adds
     * both).  What needs the origin (does the repository exist?) is resolve's.
     */
    int (*check_ref)(const char *ref, char *err, size_t errlen);
} ap_vendor;

/** Type of the entry point `ap_vendor_NAME_init`. */
typedef const ap_vendor *(*ap_vendor_init_fn)(const ap_host *host);

#ifdef __cplusplus
}
#endif

#endif
