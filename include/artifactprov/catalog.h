/* libartifactprov — the catalog of provisioned artifacts.
 * SPDX-License-Identifier: MIT
 *
 * One JSON document per entry under <store root>/catalog/<id>.json, written
 * by temp file + fsync + rename, carrying a format version.  A corrupt or
 * foreign document is skipped with a warning (collected on the handle, see
 * ap_catalog_warning()), never a crash, and is never deleted by the catalog.
 * Document format: docs/store.md.
 */
#ifndef ARTIFACTPROV_CATALOG_H
#define ARTIFACTPROV_CATALOG_H

#include "common.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ap_entry_status {
    AP_ENTRY_PENDING = 0,
    AP_ENTRY_DOWNLOADING = 1,
    AP_ENTRY_READY = 2,
    AP_ENTRY_FAILED = 3,
    AP_ENTRY_CANCELLED = 4
} ap_entry_status;

/** "pending", "downloading", "ready", "failed", "cancelled". */
AP_EXPORT const char *ap_entry_status_name(ap_entry_status status);

/** Where one file of an entry stands. */
typedef enum ap_file_status {
    AP_FILE_PENDING = 0,     /**< listed, not fetched (a sync, or not yet) */
    AP_FILE_DOWNLOADING = 1, /**< being fetched or imported */
    AP_FILE_READY = 2,       /**< its blob is in the store (present == 1) */
    AP_FILE_FAILED = 3       /**< the last attempt failed */
} ap_file_status;

/** "pending", "downloading", "ready", "failed". */
AP_EXPORT const char *ap_file_status_name(ap_file_status status);

/**
 * One file of an entry.  Strings may be NULL when unknown.
 *
 * Extensible: members are only appended, so the size of an element may
 * grow.  Read the files of an entry through ap_entry_file_count() and
 * ap_entry_file_at(), never by indexing ap_entry.files (its stride is the
 * library's).  struct_size is the size of the element as the library (or
 * whoever built the array) knew it; a member is there when struct_size
 * covers it (AP_ENTRY_FILE_HAS).  An array a caller builds (for
 * ap_catalog_put() or ap_entry_to_json()) sets struct_size in each element,
 * or leaves it 0 for the size the caller was compiled with.
 */
typedef struct ap_entry_file {
    size_t struct_size;
    char *name;        /**< relative path inside the artifact */
    char *path;        /**< absolute local path (the blob or its view) */
    uint64_t size;
    char *sha256;      /**< lower-case hex */
    char *git_sha1;    /**< git blob id when the vendor gave one */
    char *kind;        /**< "model", "config", "tokenizer", "other" */
    char *format;      /**< "gguf", "safetensors", "pytorch", "onnx", "json", ... */
    char *precision;   /**< "f32", "f16", "bf16", "q8_0", "q4_k_m", ... */
    char *url;         /**< where it came from */
    int present;       /**< 1 when the blob is in the store (status READY) */
    /* From the file header (ap_classify()), filled for every committed
     * file whose header tells. */
    char *architecture; /**< GGUF general.architecture ("llama"), or NULL */
    uint64_t parameters; /**< GGUF general.parameter_count, else the sum of
                              the tensor shapes (GGUF, safetensors); 0 unknown */
    ap_file_status status; /**< the file's own lifecycle; READY iff present */
    char *verification; /**< what the bytes were checked against beyond the
                              sha256 computed from them: "sha256" (a digest
                              from the vendor), "git-sha1", "minisign" (a
                              signature by a key the user trusts), joined by
                              '+'; "none" when the vendor gave nothing (the
                              file is unverified); NULL when not recorded
                              (documents before 0.3) */
} ap_entry_file;

/** 1 when the file `f` (a pointer) has member `m` (see ap_entry_file). */
#define AP_ENTRY_FILE_HAS(f, m) \
    (!(f)->struct_size || \
     (f)->struct_size >= offsetof(ap_entry_file, m) + sizeof((f)->m))

/**
 * A catalog entry.  Allocated by the library, read by the caller, freed
 * with ap_entry_free().  Members are only appended.
 */
typedef struct ap_entry {
    size_t struct_size;
    char *id;          /**< stable id derived from vendor + canonical ref */
    char *vendor;      /**< vendor name */
    char *ref;         /**< canonical reference */
    char *name;        /**< human name ("org/repo") */
    char *revision;    /**< resolved revision (commit), or NULL */
    ap_entry_status status;
    char *error;       /**< last error message, or NULL */
    ap_entry_file *files; /**< read with ap_entry_file_at(), not by index */
    size_t nfiles;        /**< the same as ap_entry_file_count() */
    uint64_t total_size;
    uint64_t done_bytes; /**< progress while downloading */
    int64_t created;   /**< Unix seconds */
    int64_t updated;
    uint64_t fetched_bytes; /**< bytes transferred by the last provision */
    char *requested;   /**< the reference as the caller typed it when it
                            differs from the canonical `ref` the vendor
                            gave (e.g. a tag rather than the file it
                            picks), else NULL */
} ap_entry;

AP_EXPORT void ap_entry_free(ap_entry *entry);

/** The number of files of an entry (0 for NULL). */
AP_EXPORT size_t ap_entry_file_count(const ap_entry *entry);

/**
 * File i of an entry (0 <= i < ap_entry_file_count()), or NULL when out of
 * range.  The pointer is valid as long as the entry; the element's size is
 * its struct_size (the array's stride is the library's, or the one of
 * whoever built it).
 */
AP_EXPORT const ap_entry_file *ap_entry_file_at(const ap_entry *entry, size_t i);

/** The entry as a JSON document (the catalog's own format: a line per
 * member and per file, UTF-8; docs/store.md); ap_free it.  AP_ENOMEM also
 * when a string of the entry is not UTF-8. */
AP_EXPORT int ap_entry_to_json(const ap_entry *entry, char **out);

/** Parse a catalog document.  AP_ECORRUPT on malformed input. */
AP_EXPORT int ap_entry_from_json(const char *json, size_t len, ap_entry **out);

/** The id an entry for (vendor, canonical ref) gets; ap_free it. */
AP_EXPORT int ap_entry_make_id(const char *vendor, const char *ref, char **out);

typedef struct ap_catalog ap_catalog;

/** Open the catalog of a store (the store must outlive the catalog). */
AP_EXPORT int ap_catalog_open(ap_catalog **out, ap_store *store);
AP_EXPORT void ap_catalog_close(ap_catalog *catalog);
AP_EXPORT const char *ap_catalog_errmsg(const ap_catalog *catalog);

/** Write (create or replace) an entry atomically. */
AP_EXPORT int ap_catalog_put(ap_catalog *catalog, const ap_entry *entry);

/**
 * Look an entry up by id, by canonical reference or by the reference as it
 * was last requested (ap_entry.requested).  When none is named so, the
 * reference may name one file of an entry: `R/<file>`, where R is the
 * entry's canonical (or requested) reference and <file> one of its files
 * (ap_entry_file.name) -- a file pulled on its own is recorded in the entry
 * of its repository (a sync, a snapshot) that lists it.  Then that entry is
 * returned (the one updated last when several list the file); the caller
 * picks the file by name.  AP_ENOTFOUND if absent.
 */
AP_EXPORT int ap_catalog_get(ap_catalog *catalog, const char *id_or_ref,
                             ap_entry **out);

/** Filter for ap_catalog_list; NULL members match everything. */
typedef struct ap_catalog_filter {
    size_t struct_size;
    const char *vendor;
    int status;           /**< an ap_entry_status, or -1 for any */
    const char *format;
} ap_catalog_filter;

#define AP_CATALOG_FILTER_INIT { sizeof(ap_catalog_filter), NULL, -1, NULL }

/**
 * List entries matching `filter` (NULL: all), sorted by id.  *out is an
 * array of *n entries; free it with ap_entry_list_free().
 */
AP_EXPORT int ap_catalog_list(ap_catalog *catalog,
                              const ap_catalog_filter *filter,
                              ap_entry ***out, size_t *n);
AP_EXPORT void ap_entry_list_free(ap_entry **list, size_t n);

/** Update status (and error message, may be NULL) of an entry. */
AP_EXPORT int ap_catalog_set_status(ap_catalog *catalog, const char *id,
                                    ap_entry_status status, const char *error);

/**
 * Remove an entry; its blobs are removed too unless another entry uses
 * them, and its human view goes.
 */
AP_EXPORT int ap_catalog_remove(ap_catalog *catalog, const char *id);

/**
 * What ap_classify() says about a file.  Set struct_size (use
 * AP_CLASSIFY_INFO_INIT), pass it to ap_classify(), release the strings
 * with ap_classify_info_clear().  Members are only appended; the library
 * writes only the members that fit in struct_size.
 *
 * From the name (the header overrides when it tells): kind, format,
 * precision.  From the header only (NULL / 0 when the file has no header
 * we read, or a corrupt one): architecture, parameters, tensor_count,
 * from_header.
 */
typedef struct ap_classify_info {
    size_t struct_size;
    char *kind;         /**< "model", "config", "tokenizer", "other" */
    char *format;       /**< "gguf", "safetensors", "pytorch", "json", ...; NULL unknown */
    char *precision;    /**< lower case: "q4_k_m", "f16", "bf16", ...; NULL unknown */
    char *architecture; /**< GGUF general.architecture ("llama"); NULL for
                             safetensors (its header does not say) */
    uint64_t parameters; /**< GGUF general.parameter_count, else the sum of
                              the products of the tensor shapes (GGUF tensor
                              infos, safetensors "shape"); 0 unknown */
    uint64_t tensor_count; /**< tensors the header lists; 0 unknown */
    int from_header;    /**< 1 when a GGUF or safetensors header was read
                             (format, and precision when it tells, come
                             from it), 0 when only the name was used */
} ap_classify_info;

#define AP_CLASSIFY_INFO_INIT { sizeof(ap_classify_info), NULL, NULL, NULL, NULL, 0, 0, 0 }

/**
 * Classify a file by its header (GGUF key-values and tensor infos,
 * safetensors JSON header), with its name as the fallback.  path may be
 * NULL (name only); name may be NULL (the path's last component is used);
 * not both.  info->struct_size must be set; info's previous strings are
 * not freed (clear it first when reusing it).
 *
 * AP_OK; AP_ECORRUPT when the file announces GGUF or safetensors (magic,
 * or its name) but the header is malformed: then only the name-based
 * members are filled, never a half-parsed architecture or parameter
 * count; AP_EIO when path cannot be read or is not a regular file (a FIFO
 * is refused without blocking), AP_EINVAL, AP_ENOMEM: nothing filled.
 * Reading is bounded: a fixed buffer, strings and arrays the classifier
 * does not keep skipped whatever their size (docs/store.md).
 */
AP_EXPORT int ap_classify(const char *path, const char *name,
                          ap_classify_info *info);

/** Free the strings of info and zero it, keeping struct_size. */
AP_EXPORT void ap_classify_info_clear(ap_classify_info *info);

/**
 * Warnings of the last ap_catalog_list/get/remove/gc on this handle: one
 * per document skipped as corrupt or foreign ("catalog/x.json: ...").
 * The string is borrowed until the next call on the handle.
 */
AP_EXPORT size_t ap_catalog_warning_count(const ap_catalog *catalog);
AP_EXPORT const char *ap_catalog_warning(const ap_catalog *catalog, size_t i);

/**
 * The id of the damaged document warning i is about ("catalog/<id>.json"),
 * so that it can be shown and removed by id (ap_catalog_remove() removes a
 * damaged document too); NULL when its file name is not a valid id.
 * Borrowed like ap_catalog_warning().
 */
AP_EXPORT const char *ap_catalog_warning_id(const ap_catalog *catalog, size_t i);

/**
 * Garbage-collect the store against the catalog: blobs no entry references
 * and staging files untouched for stale_seconds (or that nothing can
 * resume) go (ap_store_gc).  Refuses
 * with AP_ECORRUPT, removing nothing, when a document cannot be read (its
 * references are unknown).
 */
AP_EXPORT int ap_catalog_gc(ap_catalog *catalog, unsigned stale_seconds,
                            ap_store_report_cb report, void *user,
                            uint64_t *freed);

#ifdef __cplusplus
}
#endif

#endif
