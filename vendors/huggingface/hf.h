/* libartifactprov — Hugging Face vendor, private interface.
 * Everything here has hidden visibility (the Makefile builds vendors with
 * -fvisibility=hidden); names use the hfv_ prefix so the sources can also be
 * compiled into a test program next to the library without clashes.
 * SPDX-License-Identifier: MIT */
#ifndef AP_VENDOR_HF_H
#define AP_VENDOR_HF_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>

#include "artifactprov/vendor.h"

#include "../common/apv.h"

#define HFV_VERSION "0.1.0"
#define HFV_DEFAULT_ENDPOINT "https://huggingface.co"
#define HFV_GRAMMAR \
    "hf:[datasets/|spaces/|models/]ORG/REPO[@REV][:QUANT] or " \
    "hf:[datasets/|spaces/|models/]ORG/REPO[@REV]/PATH"
#define HFV_METADATA_MAX (10u * 1024u * 1024u)  /* metadata files: < 10 MB */
#define HFV_MAX_TREE_PAGES 10000u
#define HFV_MAX_ENTRIES 1000000u
#define HFV_MAX_HOPS 5               /* relative (rename) redirects */
#define HFV_API_MAX_BODY (16u * 1024u * 1024u)

/* ---- references (ref.c) ---------------------------------------------- */

typedef enum hfv_type { HFV_MODEL = 0, HFV_DATASET = 1, HFV_SPACE = 2 } hfv_type;

typedef struct hfv_ref {
    hfv_type type;
    char *repo;    /* "ORG/NAME" */
    char *rev;     /* decoded revision, NULL when not given (= "main") */
    char *quant;   /* QUANT tag as written, NULL when none */
    char *path;    /* file path, NULL when none */
} hfv_ref;

/* Parse a whole reference ("hf:..." or "huggingface:...").  Returns AP_OK,
 * AP_EINVAL (why in err, without the grammar) or AP_ENOMEM. */
int hfv_ref_parse(const char *ref, hfv_ref *out, char *err, size_t errlen);
void hfv_ref_clear(hfv_ref *r);
/* "hf:[datasets/|spaces/]ORG/NAME[@REV][:QUANT|/PATH]"; malloc'd or NULL. */
char *hfv_ref_canonical(const hfv_ref *r);

/* "" / "datasets/" / "spaces/" (resolve URLs), "models" / ... (API URLs). */
const char *hfv_type_url_prefix(hfv_type t);
const char *hfv_type_api(hfv_type t);
/* "models" / "datasets" / "spaces" as the HF cache folder prefix wants. */
const char *hfv_type_cache(hfv_type t);

/* Percent-encode everything but A-Z a-z 0-9 - . _ ~ (and '/' when
 * keep_slash).  malloc'd or NULL. */
char *hfv_pct_encode(const char *s, int keep_slash);
/* The path part of a file:// URL for an absolute local path. */
char *hfv_file_url_path(const char *path);

/* ---- pure helpers (util.c) --------------------------------------------- */

/* 1 when s has exactly n hex digits (lower- or upper-case) and ends. */
int hfv_is_hex(const char *s, size_t n);
/* Strip an exact "W/" prefix, then surrounding double quotes; lower-case.
 * malloc'd or NULL (also NULL for NULL input). */
char *hfv_etag_normalize(const char *etag);
/* Find the rel="next" target of an RFC 8288 Link header.  Returns a malloc'd
 * URL, or NULL (none or out of memory: *oom says which). */
char *hfv_link_next(const char *link, int *oom);
/* Case-insensitive suffix test. */
int hfv_ends_with_ci(const char *s, const char *suffix);
/* Base name: the part after the last '/'. */
const char *hfv_basename(const char *path);
/* 1 for .gguf (any case). */
int hfv_is_gguf(const char *path);
/* 1 when the base name contains `tag` (any case) preceded by start/./-/_
 * and followed by '.' or '-'. */
int hfv_quant_match(const char *path, const char *tag);
/* Quant tag of a GGUF name ("Q4_K_M", "F16", ...), upper-cased into out
 * (size outlen); 0 when none. */
int hfv_quant_of(const char *path, char *out, size_t outlen);
/* Split part "PREFIX-00001-of-00003.gguf": sets *prefix_len (length of the
 * path up to the '-' before the part number), *part and *total; 0 when the
 * name is not a split part. */
int hfv_split_part(const char *path, size_t *prefix_len, unsigned *part,
                   unsigned *total);
/* Levenshtein distance, capped at `cap` (returns cap when >= cap). */
size_t hfv_edit_distance(const char *a, const char *b, size_t cap);
/* 1 when a file is a weight (by extension). */
int hfv_is_weight(const char *path);
/* 1 for "1", "true", "yes", "on" (any case). */
int hfv_truthy(const char *v);
/* Host name (no port, no brackets, no user info) of an http(s) URL into out;
 * 0 on failure. */
int hfv_url_host(const char *url, char *out, size_t outlen);
/* Length of the "scheme://authority" part of an URL, 0 when malformed. */
size_t hfv_url_origin_len(const char *url);
/* A copy of url fit to print: "user:pass@" in the authority → "***@".
 * malloc'd; NULL when out of memory. */
char *hfv_url_redact(const char *url);

/* ---- file lists and GGUF selection (select.c) -------------------------- */

typedef struct hfv_file {
    char *path;
    uint64_t size;       /* AP_SIZE_UNKNOWN when not known */
    char sha256[65];     /* "" when not LFS */
    char git_sha1[41];   /* "" when unknown */
    char *local;         /* offline: absolute path of the blob, else NULL */
    int selected;
} hfv_file;

typedef struct hfv_list {
    hfv_file *v;
    size_t n, cap;
} hfv_list;

/* Append (path copied); returns the new element or NULL on ENOMEM. */
hfv_file *hfv_list_add(hfv_list *l, const char *path);
void hfv_list_clear(hfv_list *l);
void hfv_list_sort(hfv_list *l);

/* Mark the files a QUANT tag selects.  Returns AP_OK, or AP_ENOTFOUND with
 * a reason in msg (e.g. "no GGUF file for quant 'X'; available: ...") or
 * AP_ENOMEM. */
int hfv_select_quant(hfv_list *l, const char *quant, char *msg, size_t msglen);
/* Up to `max` names close to `want` as "'a', 'b'" into out; number found. */
size_t hfv_close_names(const hfv_list *l, const char *want, size_t max,
                       char *out, size_t outlen);

/* ---- publishing into an HF cache (publish.c) --------------------------- */

/* The vendor's `publish`: when the caller's option "hf_cache_publish"
 * names a directory, lay the entry out there as huggingface_hub does
 * (blobs/ETAG, snapshots/COMMIT/PATH -> ../../blobs/ETAG, refs/REV). */
int hfv_publish(void *state, ap_vendor_call *call,
                const ap_vendor_publication *pub);

/* ---- the resolve context (every resolver) ------------------------------- */

typedef struct hfv_state {
    ap_host host;        /* a zeroed copy of what the host provides */
} hfv_state;

typedef struct hfv_ctx {
    const ap_host *host;
    ap_vendor_call *call;
    const char *ref;     /* as given, for messages */
    hfv_ref r;
    char *canonical;
    char *endpoint;      /* no trailing '/'; may carry user:pass@ */
    char *endpoint_shown;/* endpoint without credentials: for messages */
    char host_name[256]; /* the hub's host name (bearer_host) */
    char *token;         /* NULL when none */
    const char *token_src;
    char *repo_name;     /* current repo name (after renames) */
} hfv_ctx;

/* ---- the user's HF cache: where, the containment rule, its blobs (cachedir.c) */

/* a + "/" + b, malloc'd; NULL when out of memory. */
char *hfv_path_cat(const char *a, const char *b);
/* The HF cache directory, by one rule (every variable through
 * host->getenv): $HF_HUB_CACHE (or the older $HUGGINGFACE_HUB_CACHE), else
 * $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
 * $HOME/.cache/huggingface/hub.  malloc'd; NULL when out of memory. */
char *hfv_cache_dir(hfv_ctx *c);
/* Is the resolved path `real` below the cache's resolved root? */
int hfv_cache_inside(const char *real, const char *root_real);
/* Why `path` (resolved to `real`) is refused, into why: the link and its
 * target. */
void hfv_cache_escape_msg(const char *path, const char *real, const char *cache,
                          char *why, size_t n);
/* A blob already in the user's HF cache under etag (sha256 or git blob
 * id), to reuse instead of downloading; NULL when absent.  Free with
 * free(). */
char *hfv_cache_blob(hfv_ctx *c, const char *etag, uint64_t size);

/* ---- resolvers (hf.c online, cache.c offline, fromcat.c catalog) ------- */

/* Serve the reference from the ready catalog entries the host holds for
 * this repository and revision (fromcat.c): AP_OK with the files added,
 * AP_ENOTFOUND (nothing added, no message set) or AP_ENOMEM. */
int hfv_resolve_from_catalog(hfv_ctx *c);
/* The vendor's `scan`: import the snapshots of an HF cache (scan.c). */
int hfv_scan(void *state, ap_vendor_call *call, const char *dir);
/* Offline resolution from the HF cache (cache.c). */
int hfv_resolve_offline(hfv_ctx *c);

/* ---- the manifest (manifest.c) ----------------------------------------- */

/* The headers of every hub request and file entry (the User-Agent). */
extern const char *const hfv_headers[];
/* Add the selected files of a list to the manifest.  When `local` the URLs
 * are file:// URLs of the blobs. */
int hfv_add_files(hfv_ctx *c, const hfv_list *l, const char *commit, int local);
/* The canonical reference of what was selected in l; malloc'd. */
char *hfv_canonical_for(const hfv_ctx *c, const hfv_list *l);
/* Describe the artifact, with the canonical reference of the selection
 * in l (may be NULL). */
int hfv_set_artifact(hfv_ctx *c, const char *commit, const hfv_list *l);

/* ---- messages (msg.c) -------------------------------------------------- */

/* Set the call's error, prefixed with the reference: "<ref>: ...". */
int hfv_fail(hfv_ctx *c, int status, const char *fmt, ...) AP_PRINTF(3, 4);
/* Log through the host (when it has a log function), prefixed likewise. */
void hfv_log(hfv_ctx *c, int level, const char *fmt, ...) AP_PRINTF(3, 4);

#endif
