/* libartifactprov — the provisioner: reference in, verified files out.
 * SPDX-License-Identifier: MIT */
#ifndef ARTIFACTPROV_PROVISIONER_H
#define ARTIFACTPROV_PROVISIONER_H

#include "common.h"
#include "cancel.h"
#include "events.h"
#include "vendor.h"
#include "store.h"
#include "catalog.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A provisioner owns a store, its catalog and the loaded vendors.  Use one
 * handle from one thread at a time (several provisioners may share a store
 * root, in one process or several).
 */
typedef struct ap_provisioner ap_provisioner;

#define AP_PROV_NO_PLUGINS 0x1u  /**< do not scan for vendor plugins */
/** Import files from foreign caches (another tool's cache, local copies
 *  offered by vendors) by hard link instead of a reflink or a copy.  The
 *  store then shares an inode with a file another program may rewrite in
 *  place: only for caches you trust.  Off by default. */
#define AP_PROV_LINK_IMPORTS 0x2u

/**
 * A set of loaded vendors, independent of any provisioner: load the
 * plugins (or register static vendors) once and hand the set to every
 * provisioner through ap_provisioner_options.vendors — an ap_jobs registry
 * passes it to each worker's provisioner.  Each provisioner calls the
 * vendors' `create` for a state of its own.  Loading and registering are
 * not thread-safe; once done, the set is only read and may be used by
 * provisioners on several threads.  It must outlive them.
 */
typedef struct ap_vendor_set ap_vendor_set;

typedef struct ap_provisioner_options {
    size_t struct_size;
    const char *home;        /**< store root; NULL: ap_store_default_root() */
    const char *vendor_path; /**< colon-separated plugin directories; NULL:
                                  $AP_VENDOR_PATH then the install vendordir */
    unsigned flags;          /**< AP_PROV_* */
    ap_vendor_set *vendors;  /**< use these vendors (borrowed, must outlive
                                  the provisioner) instead of scanning
                                  vendor_path; NULL: scan as described */
} ap_provisioner_options;

#define AP_PROVISIONER_OPTIONS_INIT { sizeof(ap_provisioner_options), NULL, \
                                      NULL, 0, NULL }

AP_EXPORT void ap_provisioner_options_init(ap_provisioner_options *opts);

/**
 * Create a provisioner: open the store and catalog and load every vendor
 * plugin found.  A plugin that is refused does not fail the call; its
 * refusal is listed by ap_provisioner_vendor_info().  ap_global_init() must
 * have been called.
 */
AP_EXPORT int ap_provisioner_new(ap_provisioner **out,
                                 const ap_provisioner_options *opts);
AP_EXPORT void ap_provisioner_free(ap_provisioner *prov);

/** Message of the last failure on this handle (borrowed, never NULL). */
AP_EXPORT const char *ap_provisioner_errmsg(const ap_provisioner *prov);

AP_EXPORT ap_store *ap_provisioner_store(ap_provisioner *prov);
AP_EXPORT ap_catalog *ap_provisioner_catalog(ap_provisioner *prov);

/**
 * Load one vendor plugin from `path`.  On refusal (no entry symbol, ABI
 * mismatch, short table, missing resolve, scheme already taken) returns
 * AP_EABI or AP_EVENDOR and the message names the file and the versions.
 */
AP_EXPORT int ap_provisioner_load_vendor(ap_provisioner *prov,
                                         const char *path);

/** Register a statically linked vendor (origin: a label for listings). */
AP_EXPORT int ap_provisioner_register_vendor(ap_provisioner *prov,
                                             ap_vendor_init_fn init,
                                             const char *origin);

/** What ap_provisioner_vendor_info() reports about one vendor. */
typedef struct ap_vendor_info {
    size_t struct_size;
    const char *name;
    const char *version;
    const char *description;
    const char *const *schemes;
    const char *origin;       /**< file it was loaded from, or the label */
    unsigned abi_version;     /**< the vendor ABI it was built for */
    const char *usage;        /**< its reference grammar ("" when the
                                   vendor declares none) */
} ap_vendor_info;

/** Number of loaded vendors. */
AP_EXPORT size_t ap_provisioner_vendor_count(const ap_provisioner *prov);

/** Fill *out (borrowed strings) for vendor i < count.  AP_EINVAL if out of range. */
AP_EXPORT int ap_provisioner_vendor_info(const ap_provisioner *prov, size_t i,
                                         ap_vendor_info *out);

/** Messages of plugins refused while scanning (borrowed, NULL-terminated). */
AP_EXPORT const char *const *ap_provisioner_refusals(const ap_provisioner *prov);

/** Create an empty vendor set.  ap_global_init() must have been called. */
AP_EXPORT int ap_vendor_set_new(ap_vendor_set **out);
/** Free a set (after every provisioner using it). */
AP_EXPORT void ap_vendor_set_free(ap_vendor_set *set);
/**
 * Load every plugin of the colon-separated directories `path_list` (NULL:
 * $AP_VENDOR_PATH then the install vendordir), under the trust rules of
 * ap_provisioner_new; refused plugins are listed by
 * ap_vendor_set_refusals().  Returns AP_OK.
 */
AP_EXPORT int ap_vendor_set_load_path(ap_vendor_set *set, const char *path_list);
/** Load one plugin (as ap_provisioner_load_vendor; AP_EABI / AP_EVENDOR
 *  with ap_vendor_set_errmsg() naming the file on refusal). */
AP_EXPORT int ap_vendor_set_load_file(ap_vendor_set *set, const char *path);
/** Register a statically linked vendor (as ap_provisioner_register_vendor). */
AP_EXPORT int ap_vendor_set_register(ap_vendor_set *set, ap_vendor_init_fn init,
                                     const char *origin);
/** Number of vendors in the set. */
AP_EXPORT size_t ap_vendor_set_count(const ap_vendor_set *set);
/** Fill *out (borrowed strings) for vendor i < count; AP_EINVAL otherwise. */
AP_EXPORT int ap_vendor_set_info(const ap_vendor_set *set, size_t i,
                                 ap_vendor_info *out);
/** Messages of plugins refused (borrowed, NULL-terminated). */
AP_EXPORT const char *const *ap_vendor_set_refusals(const ap_vendor_set *set);
/** Message of the set's last failure (borrowed, never NULL). */
AP_EXPORT const char *ap_vendor_set_errmsg(const ap_vendor_set *set);

/**
 * Check the syntax of `ref` without any I/O: SCHEME:REST without control
 * characters, a loaded vendor serving SCHEME, and that vendor's
 * ap_vendor.check_ref when it has one (a vendor without one is asked
 * nothing: AP_OK, its resolve finds out).  Returns AP_OK, AP_EINVAL
 * (malformed) or AP_EVENDOR (no vendor serves the scheme), with a message
 * naming the reference, the cause and the grammar in err (may be NULL).
 * A daemon refuses a malformed reference at submission with it.
 */
AP_EXPORT int ap_vendor_set_check_ref(const ap_vendor_set *set, const char *ref,
                                      char *err, size_t errlen);
/** ap_vendor_set_check_ref against the vendors of a provisioner. */
AP_EXPORT int ap_provisioner_check_ref(const ap_provisioner *prov, const char *ref,
                                       char *err, size_t errlen);

/* Provision flags. */
#define AP_PROVISION_FORCE        0x1u /**< re-fetch even when present */
#define AP_PROVISION_DROP_PARTIAL 0x2u /**< on cancel/failure, delete staging
                                            data instead of keeping it for resume */
#define AP_PROVISION_NO_VERIFY_PRESENT 0x4u /**< trust blobs already stored */
#define AP_PROVISION_METADATA_ONLY 0x8u /**< "sync": record every file with its
                                            size and digest, fetch only the small
                                            (< 10 MB) metadata files; the entry
                                            stays pending until a full pull */
#define AP_PROVISION_REFRESH 0x10u /**< demand a fresh check with the origin:
                                            when it cannot be reached, fail
                                            instead of returning the ready
                                            entry already in the catalog */
#define AP_PROVISION_REQUIRE_VERIFIED 0x20u /**< refuse (AP_EDIGEST, before
                                            anything is fetched) a file the
                                            vendor gives no digest, git blob
                                            id or signature for: without
                                            one, the bytes are stored under
                                            the sha256 computed from them but
                                            checked against nothing
                                            (ap_entry_file.verification
                                            "none") */

typedef struct ap_provision_options {
    size_t struct_size;
    unsigned flags;                 /**< AP_PROVISION_* */
    ap_cancel_token *cancel;        /**< may be NULL */
    ap_event_cb on_event;           /**< may be NULL */
    void *event_user;
    ap_job_id job_id;               /**< 0: the provisioner assigns one */
    unsigned heartbeat_ms;          /**< 0: 1000 */
    unsigned progress_interval_ms;  /**< 0: 100 */
    const char *const *include;     /**< glob filters on file paths, or NULL */
    const char *const *exclude;
    /* Engine knobs (0 = default). */
    unsigned max_connections;       /**< total parallel connections (8) */
    unsigned connections_per_file;  /**< ranged chunks in flight per file (8) */
    uint64_t chunk_size;            /**< bytes per ranged request (8 MiB) */
    unsigned max_attempts;          /**< per range (5) */
    unsigned stall_timeout_ms;      /**< no byte for this long: retry (30000) */
    uint64_t max_bytes_per_sec;     /**< bandwidth cap, 0 = none */
    const char *const *vendor_options; /**< per-request options for the
                                         vendor: NULL-terminated list of
                                         "key", "value" pairs (both non-NULL;
                                         the last pair with a key wins), read
                                         by the vendor through host->option.
                                         A key "env:NAME" overrides the
                                         environment variable NAME for this
                                         request (host->getenv), e.g.
                                         {"env:HF_TOKEN", tok, NULL}.  Copied
                                         by ap_jobs_submit; NULL: none */
    unsigned max_per_host;          /**< connections to one host (max_connections) */
    /* Since 0.2: limits against hostile servers, and TLS trust. */
    const char *ca_file;            /**< PEM file of CA certificates trusted
                                         for TLS instead of the system's; NULL:
                                         the system store */
    uint64_t min_rate;              /**< a transfer slower than this many
                                         bytes/s for min_rate_window_ms is a
                                         stall (retried, then failed); 0: 1024 */
    unsigned min_rate_window_ms;    /**< 0: 60000 */
    uint64_t max_unknown_size;      /**< cap on a body of unknown length; 0:
                                         the free space less a reserve */
    size_t max_files;               /**< most files one entry may have; 0:
                                         no limit; checked before anything
                                         is written */
    /* Since 0.3: fleets (docs/fleet.md). */
    const char *const *mirrors;     /**< sources tried, in order, before the
                                         origin of every file whose sha256 is
                                         known: "BASE" (content-addressed,
                                         BASE/sha256/<hex>) or "PREFIX=BASE"
                                         (a URL starting with PREFIX is
                                         fetched from BASE + the rest), http(s)
                                         URLs; NULL-terminated.  A miss, a
                                         wrong digest or a mirror down falls
                                         through to the next, then the origin;
                                         the digest decides.  NULL: the
                                         whitespace-separated list in the
                                         environment variable AP_MIRRORS;
                                         an empty list: none.  Copied by
                                         ap_jobs_submit */
    unsigned adaptive_connections;  /**< most connections the engine opens
                                         while more still raise the total
                                         rate (a CDN or a long link capping
                                         each TCP stream): from
                                         max_connections it adds 4 at a time
                                         while a step raises the rate by 8 %,
                                         and steps back when it does not.
                                         0: 16 when max_connections is 0,
                                         else max_connections (no
                                         adaptation) */
} ap_provision_options;

#define AP_PROVISION_OPTIONS_INIT { sizeof(ap_provision_options), 0, NULL, \
    NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL, 0, NULL, 0, 0, \
    0, 0, NULL, 0 }

AP_EXPORT void ap_provision_options_init(ap_provision_options *opts);

/**
 * Provision `ref`: parse it, pick the vendor by scheme, resolve, fetch what
 * the store lacks (verified), commit, record the catalog entry and return
 * it in *out (free with ap_entry_free; out may be NULL).  Returns AP_OK or a
 * negative ap_status; ap_provisioner_errmsg() then names the artifact and
 * the cause.  On AP_ECANCELLED nothing partial becomes visible.
 */
AP_EXPORT int ap_provision(ap_provisioner *prov, const char *ref,
                           const ap_provision_options *opts, ap_entry **out);

/** What a scan imported. */
typedef struct ap_scan_stats {
    size_t struct_size;
    size_t entries;     /**< catalog entries written */
    size_t files;       /**< files imported (reflink or copy; hard link with
                             AP_PROV_LINK_IMPORTS) */
    size_t skipped;     /**< unsafe, unreadable or malformed items skipped */
    uint64_t bytes;     /**< bytes of the files imported */
} ap_scan_stats;

/**
 * Import a foreign cache — what another tool already downloaded — without
 * any transfer, through the `scan` member of the vendor named `vendor`
 * (its name, or one of its schemes).  `dir` is the cache directory, or
 * NULL for the vendor's default (each vendor's documentation says which;
 * it reads the environment through the host).  Each
 * file is hashed and placed in the store by reflink where the file system
 * can, else by copy (by hard link only with AP_PROV_LINK_IMPORTS), and one
 * ready entry is written per artifact the vendor reports, named by its
 * canonical reference (SCHEME:..., e.g. with the revision).  The host keeps the
 * trust: the digests recorded are computed from the bytes; a file whose
 * bytes do not match what the cache claims (sha256 or git blob id), a link
 * leading out of the cache, a FIFO, socket or device is skipped with a
 * warning (ap_provisioner_warning).  AP_EVENDOR when no such vendor is
 * loaded, AP_EUNSUPPORTED when it cannot scan.
 */
AP_EXPORT int ap_provisioner_scan(ap_provisioner *prov, const char *vendor,
                                  const char *dir, ap_scan_stats *stats);

/** ap_scan_options.flags: look, hash nothing, store nothing, write no entry;
 *  the stats and on_entry say what a scan would import. */
#define AP_SCAN_DRY_RUN 0x1u

/** Options of ap_provisioner_scan_opts (zero-fill, then set struct_size). */
typedef struct ap_scan_options {
    size_t struct_size;
    unsigned flags;             /**< AP_SCAN_* */
    ap_cancel_token *cancel;    /**< checked between files; NULL: none */
    /** Called once per entry written (with AP_SCAN_DRY_RUN: that would be
     *  written), with its canonical reference, its file count and bytes;
     *  NULL: not called.  Runs on the calling thread. */
    void (*on_entry)(void *user, const char *ref, size_t files, uint64_t bytes);
    void *user;
} ap_scan_options;

/**
 * ap_provisioner_scan with options: a dry run (AP_SCAN_DRY_RUN: the files a
 * scan would import are found and checked for safety — links out of the
 * cache, FIFOs, hostile names are still skipped with a warning — but not
 * hashed or stored, and no entry is written; stats count what would be),
 * a cancel token (AP_ECANCELLED between files; the entries of the files
 * imported so far are not written, the blobs stay for gc) and a report per
 * entry.  opts NULL is ap_provisioner_scan.
 */
AP_EXPORT int ap_provisioner_scan_opts(ap_provisioner *prov, const char *vendor,
                                       const char *dir, const ap_scan_options *opts,
                                       ap_scan_stats *stats);

/**
 * Warnings of the last scan (ap_provisioner_scan): one
 * line per item skipped, naming the file and the cause ("... sha256
 * mismatch (want W, got G)").  Valid until the next scan or
 * ap_provisioner_free; NULL when i is out of range.
 */
AP_EXPORT size_t ap_provisioner_warning_count(const ap_provisioner *prov);
AP_EXPORT const char *ap_provisioner_warning(const ap_provisioner *prov, size_t i);

#ifdef __cplusplus
}
#endif

#endif
