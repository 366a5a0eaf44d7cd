/* libartifactprov — internal structures of the provisioner, its vendor
 * loader and the host table.  SPDX-License-Identifier: MIT */
#ifndef AP_PROV_H
#define AP_PROV_H

#include "internal.h"
#include "store_index.h"

#ifndef AP_VENDORDIR
#define AP_VENDORDIR "/usr/local/lib/artifactprov/vendors"
#endif

/* A loaded vendor: our own zero-padded copy of its descriptor. */
typedef struct apx_vendor {
    ap_vendor desc;
    void *dl;          /* dlopen handle, NULL when linked statically */
    void *state;       /* from desc.create */
    char *origin;      /* file path or label */
    int fd;            /* the checked file dlopen'd as /proc/self/fd/N, or -1 */
} apx_vendor;

/* One manifest file, owned copies of what the vendor passed. */
typedef struct apx_mfile {
    char *path, *sha256, *git_sha1, *url, *bearer, *bearer_host, *etag;
    char *local_path;  /* a local copy to try before url */
    char *local_root;  /* during a scan: local_path is relative to it */
    char *signature;   /* minisign signature text, verified before commit */
    char *public_key;  /* its trusted key (with signature) */
    char *describe;    /* what the file is, for failure messages, or NULL */
    char **headers;    /* NULL-terminated */
    uint64_t size;
    unsigned flags;
} apx_mfile;

struct ap_vendor_call {
    ap_provisioner *prov;
    apx_vendor *vendor;
    const char *ref;
    ap_cancel_token *cancel;
    ap_tracker *tracker;
    const char *const *options; /* the caller's "key", "value" pairs, or NULL */
    struct apx_importer *scan;  /* during ap_provisioner_scan, else NULL */
    unsigned flags;             /* the request's AP_PROVISION_* */
    int from_catalog;           /* catalog_files gave the vendor files */
    const char *ca_file;   /* TLS trust for metadata requests, or NULL */
    uint64_t min_rate;     /* their minimum rate (0: default) */
    unsigned min_rate_window_ms;
    apx_error err;
    apx_mfile *files;
    size_t nfiles, cap;
    char *name, *revision, *canonical;
};

struct ap_provisioner {
    ap_store *store;
    ap_catalog *catalog;
    apx_vendor *vendors;
    size_t nvendors;
    char **refusals;   /* NULL-terminated */
    size_t nrefusals;
    apx_error err;
    ap_job_id next_job;
    unsigned flags;    /* AP_PROV_* */
    char **warnings;   /* of the last scan (interop.c) */
    size_t nwarnings;
    int vendor_shell;  /* 1: this is the body of an ap_vendor_set: vendors
                          are loaded and checked, `create` is not called */
    /* Set by the provisioner (provisioner.c), so that the layers below it
     * never name it: the table its vendors get (host.c, handed out by the
     * loader), and ap_provision itself, which the table's `provision` calls
     * for a vendor's inputs (a nested pull of the same provisioner). */
    const ap_host *host;
    int (*provision)(ap_provisioner *p, const char *ref,
                     const ap_provision_options *opts, ap_entry **out);
};

/* A set of loaded vendors independent of one provisioner: a provisioner
 * body without store or catalog (vendor_shell = 1).  Provisioners created
 * with it copy the descriptors and create their own states; the set keeps
 * the dlopen handles. */
struct ap_vendor_set {
    ap_provisioner shell;
};

/* Copy the vendors of `set` into `prov`, each with its own state. */
APX_HIDDEN int apx_vendors_from_set(ap_provisioner *prov,
                                    const ap_vendor_set *set);

APX_HIDDEN extern const ap_host apx_host_table;

APX_HIDDEN void apx_call_init(ap_vendor_call *call, ap_provisioner *prov,
                              apx_vendor *v, const char *ref,
                              ap_cancel_token *cancel);
APX_HIDDEN void apx_call_clear(ap_vendor_call *call);
APX_HIDDEN void apx_mfile_clear(apx_mfile *f);

/* Host calls for a vendor's scan (lib/interop.c). */
APX_HIDDEN int apx_host_commit_entry(ap_vendor_call *call);
APX_HIDDEN void apx_host_warn(ap_vendor_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
APX_HIDDEN int apx_host_read_beneath(ap_vendor_call *call, const char *root,
                                     const char *rel, char *buf, size_t cap,
                                     size_t *len);

/* host->catalog_files (lib/interop.c). */
APX_HIDDEN int apx_host_catalog_files(ap_vendor_call *call, const char *prefix,
                                      int (*each)(void *user,
                                                  const ap_vendor_entry_file *f),
                                      void *user);

/* Host calls writing into a foreign layout (lib/foreign.c). */
APX_HIDDEN int apx_host_put_copy(ap_vendor_call *call, const char *root,
                                 const char *rel, const char *blob_path);
APX_HIDDEN int apx_host_put_symlink(ap_vendor_call *call, const char *root,
                                    const char *rel, const char *target);
APX_HIDDEN int apx_host_put_bytes(ap_vendor_call *call, const char *root,
                                  const char *rel, const void *data, size_t len);

/* Loader (lib/loader.c). */
APX_HIDDEN int apx_vendor_load_file(ap_provisioner *prov, const char *path);
APX_HIDDEN int apx_vendor_register(ap_provisioner *prov, ap_vendor_init_fn init,
                                   const char *origin, void *dl);
APX_HIDDEN void apx_vendor_scan(ap_provisioner *prov, const char *path_list);
APX_HIDDEN void apx_vendors_free(ap_provisioner *prov);
/* lib/refcheck.c: 0 and the length of SCHEME in SCHEME:REST, else -1; the
 * grammar of the vendors loaded ("; "-separated usage lines). */
APX_HIDDEN int apx_ref_scheme(const char *ref, size_t *len);
APX_HIDDEN void apx_vendor_grammar(const ap_provisioner *p, char *buf, size_t sz);
APX_HIDDEN apx_vendor *apx_vendor_for_scheme(ap_provisioner *prov,
                                             const char *scheme, size_t len);

/* A stored file of a catalog entry as a vendor sees it (interop.c): the
 * strings are e's and f's, blob the caller's. */
APX_HIDDEN void apx_entry_file_for_vendor(const ap_entry *e, const ap_entry_file *f,
                                          const char *blob, ap_vendor_entry_file *vf);

/* Classify, link views and fill paths of the present files (prov_finish.c;
 * a job's cancel stops it with AP_ECANCELLED). */
APX_HIDDEN int apx_entry_finish(ap_provisioner *p, ap_entry *e);

/* Files below this size are fetched by a metadata-only provision (sync). */
#define AP_METADATA_MAX (10u * 1024u * 1024u)

/* Warnings of the last scan (interop.c): a file refused, and why. */
APX_HIDDEN void apx_prov_warn(ap_provisioner *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
APX_HIDDEN void apx_prov_warnings_clear(ap_provisioner *p);
/* Local path of a file:// URL, percent-decoded (RFC 8089); NULL if bad. */
APX_HIDDEN char *apx_file_url_path(const char *url);

#endif
