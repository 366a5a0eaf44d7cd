/* libartifactprov — the Ollama vendor's internal declarations (hidden:
 * the plugin exports only ap_vendor_ollama_init).  SPDX-License-Identifier: MIT */
#ifndef OLV_H
#define OLV_H

#include <artifactprov/vendor.h>

#include "../common/apv.h"

#include <stddef.h>
#include <stdint.h>

#define OLV_DEFAULT_HOST "registry.ollama.ai"
#define OLV_DEFAULT_NS "library"
#define OLV_DEFAULT_TAG "latest"
#define OLV_MAX_MANIFEST (1u << 20)
#define OLV_MAX_LAYERS 4096
/* the file names of the two documents of an entry (docs/vendor-ollama.md) */
#define OLV_MANIFEST_FILE "manifest.json"
#define OLV_CONFIG_FILE "config.json"

typedef struct olv_state {
    ap_host host;   /* a zeroed copy of what the host provides */
} olv_state;

/* A parsed reference, by ollama's name rules (types/model/name.go). */
typedef struct olv_ref {
    char scheme[8];          /* "https" (default) or "http" */
    char host[352];          /* with ":port" when given */
    char ns[81], model[81], tag[81];
} olv_ref;

/* Where the bytes of a manifest's files come from. */
typedef struct olv_source {
    const char *models;        /* the Ollama store (local files), or NULL */
    int with_url;              /* local: give file:// URLs (a resolve) */
    const char *manifest_rel;  /* local: manifests/HOST/NS/MODEL/TAG */
    const char *manifest_url;  /* registry: the manifest's URL */
    const char *const *manifest_headers;
    const char *blob_base;     /* registry: ".../v2/NS/MODEL/blobs" */
    const char *token;         /* registry: bearer token, or NULL */
    const char *bearer_host;   /* registry: the host the token belongs to */
} olv_source;

/* Add the files of the manifest `doc` (manifest.json, config.json, the
 * layers) and describe the artifact.  AP_OK, AP_ECORRUPT (why in msg) or
 * a failure with the call's error set. */
int olv_add_manifest(const ap_host *h, ap_vendor_call *call, const olv_source *src,
                     const olv_ref *r, const char *doc, size_t len, char *msg,
                     size_t msglen);

/* ollama:[SCHEME://][HOST/][NS/]MODEL[:TAG] (the "ollama:" prefix
 * optional); 0, or -1 with why in msg. */
int olv_parse_ref(const char *ref, olv_ref *r, char *msg, size_t msglen);
/* "ollama:HOST/NS/MODEL:TAG" into buf. */
void olv_canonical(const olv_ref *r, char *buf, size_t len);

/* The Ollama store: dir, else $OLLAMA_MODELS, else $HOME/.ollama/models;
 * absolute.  malloc'd, or NULL with the call's error set. */
char *olv_models_dir(const ap_host *h, ap_vendor_call *call, const char *dir);

/* A name's parts (name.c): olv_valid_part says whether s[0..len) may be
 * one, under ollama's rules for its kind (a scan names its levels so). */
enum { OLV_K_HOST, OLV_K_NS, OLV_K_MODEL, OLV_K_TAG };
int olv_valid_part(int kind, const char *s, size_t len);

/* A file:// URL of root/rel, percent-encoded (manifest.c); NULL: ENOMEM. */
char *olv_file_url(const char *root, const char *rel);

/* One layer of a manifest: "sha256:<hex>" checked. */
const char *olv_layer_digest(void *json_layer, const char **media, uint64_t *size);
/* The file name a layer of media type `media` gets (dup: how many layers of
 * the same type came before it).  Writes into buf. */
void olv_layer_name(const char *media, size_t dup, char *buf, size_t len);

/* Resolve from the registry.  AP_OK, or a failure with the call's error
 * set (network failures: AP_ENETWORK, AP_ETIMEDOUT, AP_EHTTP...). */
int olv_resolve_registry(const ap_host *h, ap_vendor_call *call, const char *ref,
                         const olv_ref *r);

/* publish member */
int olv_publish(void *state, ap_vendor_call *call, const ap_vendor_publication *pub);


int olv_is_hex64(const char *s);

#endif
